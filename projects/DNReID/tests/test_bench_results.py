"""The bench tables in the README are the committed runs' tables: re-reporting the runs under
results/ gives the same summary.md, and every row of it is in the README."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROJECT = Path(__file__).resolve().parents[1]
GRID, RESULTS = "configs/ablations/dndm_bench.yml", PROJECT / "results" / "dndm_bench"
KEPT = {"ablate.json", "config.yaml", "metrics.json"}  # what results/.gitignore commits of a run


def committed_only(folder: str, names: list[str]) -> set[str]:
    """copytree's ignore: a local checkout's checkpoints and logs stay behind, as in a clone."""
    return {n for n in names if Path(folder, n).is_file() and n not in KEPT}


def test_committed_runs_give_the_readme_tables(tmp_path):
    copy = tmp_path / "dndm_bench"
    shutil.copytree(RESULTS, copy, ignore=committed_only)
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "ablate.py"), "--grid", GRID, "--report-only",
                           "--output", str(copy)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    table = (copy / "summary.md").read_text(encoding="utf-8")
    assert table == (RESULTS / "summary.md").read_text(encoding="utf-8")
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert rows and [row for row in rows if row not in readme] == []
