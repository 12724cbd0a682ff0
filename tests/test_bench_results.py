"""Every committed ablation table is what its committed runs give: for each grid in
configs/ablations/ whose output folder holds a summary.md, re-reporting the runs (as a clone has
them: no checkpoints, no logs) gives the same summary.md, and every row of it is quoted in the
README of the project that holds the results (the output folder's grandparent)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
KEPT = {"ablate.json", "config.yaml", "metrics.json"}  # what results/.gitignore commits of a run


def committed_grids() -> list:
    grids = []
    for grid in sorted((ROOT / "configs" / "ablations").glob("*.yml")):
        output = ROOT / yaml.safe_load(grid.read_text(encoding="utf-8"))["output"]
        if (output / "summary.md").is_file():
            grids.append(pytest.param(str(grid.relative_to(ROOT)), output, id=grid.stem))
    return grids


def committed_only(folder: str, names: list[str]) -> set[str]:
    """copytree's ignore: a local checkout's checkpoints and logs stay behind, as in a clone."""
    return {n for n in names if Path(folder, n).is_file() and n not in KEPT}


def test_some_tables_are_committed():
    assert len(committed_grids()) >= 2


@pytest.mark.parametrize("grid, results", committed_grids())
def test_committed_runs_give_the_readme_tables(tmp_path, grid, results, run_tool, monkeypatch, capsys):
    copy = tmp_path / results.name
    shutil.copytree(results, copy, ignore=committed_only)
    monkeypatch.chdir(ROOT)  # the grid files name their configs from the repository root
    assert run_tool("ablate", "--grid", grid, "--report-only", "--output", copy) == 0, capsys.readouterr().err[-2000:]
    table = (copy / "summary.md").read_text(encoding="utf-8")
    assert table == (results / "summary.md").read_text(encoding="utf-8")
    readme = (results.parents[1] / "README.md").read_text(encoding="utf-8")
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert rows and [row for row in rows if row not in readme] == []
