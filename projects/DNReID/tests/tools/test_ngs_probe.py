"""projects/DNReID/tools/ngs_probe.py on run folders made from the session's saved DNDM, its NGS
projection set by hand: closed, open on the glare prior alone, and open everywhere."""
from __future__ import annotations

import importlib.util
import json
import math
import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml

from vreid.cli import run_cli

TOOL = Path(__file__).resolve().parents[2] / "tools" / "ngs_probe.py"
MASK_WEIGHT = 3.0
GLARE_LOSSES = [0.80, 0.79, 0.78, 0.77, 0.76, 0.75, 0.74, 0.7241, 0.7241, 0.7241, 0.7241, 0.7241]


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("tool_ngs_probe", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def probe(tool):
    """probe(*argv) -> exit code, through run_cli as on the command line."""
    def run(*argv) -> int:
        with pytest.raises(SystemExit) as exit_info:
            run_cli(lambda: tool.main([str(a) for a in argv]))
        return exit_info.value.code
    return run


def write_metrics(path: Path) -> None:
    """fast-reid's metrics.json: training records with loss_glare, an evaluation record without."""
    lines = [{"iteration": 10 * i + 9, "loss_glare": v, "lr": 0.01} for i, v in enumerate(GLARE_LOSSES)]
    lines.insert(6, {"iteration": 59, "SynDN_D2N/Rank-1": 3.0})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def make_run(folder: Path, saved, weight: torch.Tensor | None = None, config: dict | None = None) -> Path:
    """A training output folder: config.yaml, model_final.pth (with NGS's projection ``weight``),
    last_checkpoint naming it, metrics.json."""
    folder.mkdir(parents=True)
    if config is None:
        shutil.copy(saved.config, folder / "config.yaml")
    else:
        (folder / "config.yaml").write_text(yaml.safe_dump(config))
    checkpoint = torch.load(saved.weights, weights_only=True)
    if weight is not None:
        checkpoint["model"]["ngs.proj.weight"] = weight
    torch.save(checkpoint, folder / "model_final.pth")
    (folder / "last_checkpoint").write_text("model_final.pth")
    write_metrics(folder / "metrics.json")
    return folder


def test_probe_tells_closed_from_open(data_root, saved_model, probe, tmp_path, capsys):
    saved = saved_model("DNDM")
    start = torch.load(saved.weights, weights_only=True)["model"]["ngs.proj.weight"]
    mask_only = torch.zeros_like(start)
    mask_only[0, -1] = MASK_WEIGHT  # z = 3 on glare cells, 0 elsewhere
    runs = [make_run(tmp_path / "closed", saved, -start.abs()),
            make_run(tmp_path / "glare", saved, mask_only),
            make_run(tmp_path / "open", saved, start.abs())]
    out = tmp_path / "probe.json"
    assert probe(*runs, "--images", 16, "--output", out) == 0, capsys.readouterr().err
    table = capsys.readouterr().out
    closed, glare, opened = json.loads(out.read_text())["runs"]
    assert [r["images_day"] for r in (closed, glare, opened)] == [16] * 3
    assert [r["images_night"] for r in (closed, glare, opened)] == [16] * 3

    # Negative weights on non-negative inputs: the ReLU is shut on every cell, A = 0.5 exactly.
    assert closed["open_day"] == closed["open_night"] == 0 and closed["closed"]
    assert closed["attention_day"] == closed["attention_night_glare"] == closed["attention_night_other"] == 0.5

    # Only the glare prior opens it: exactly the night cells NGS's pooled mask marks.
    assert 0 < glare["glare_share_night"] < 1 and not glare["closed"]
    assert glare["open_day"] == 0 and glare["open_night"] == pytest.approx(glare["glare_share_night"])
    assert glare["attention_night_glare"] == pytest.approx(1 / (1 + math.exp(-MASK_WEIGHT)), abs=1e-6)
    assert glare["attention_night_other"] == glare["attention_day"] == 0.5

    # The nonnegative init: open by day and by night, A above 0.5.
    assert opened["open_day"] > 0 and opened["open_night"] > 0 and not opened["closed"]
    assert opened["attention_day"] > 0.5 and opened["attention_night_other"] > 0.5

    closed_value = 0.5 * (math.log1p(math.exp(0.5)) + math.log1p(math.exp(-0.5)))  # softplus(+-0.5)
    for row in (closed, glare, opened):
        assert row["loss_glare_closed"] == pytest.approx(closed_value, abs=1e-12)
        assert round(row["loss_glare_closed"], 4) == 0.7241
        assert row["loss_glare_first"] == pytest.approx(sum(GLARE_LOSSES[:5]) / 5)
        assert row["loss_glare_last"] == pytest.approx(0.7241)
    lines, written = table.split("\n\n")
    lines = lines.splitlines()
    assert written == f"-> {out}\n" and len(lines) == 5 and lines[0].startswith("| run |")
    assert [line.split(" | ")[-1] for line in lines[2:]] == ["closed (fixed x0.75) |", "open |", "open |"]


def _one_line_error(capsys, folder: Path) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and str(folder) in err
    return err


def test_folder_without_checkpoint_stops_with_one_line(data_root, saved_model, probe, tmp_path, capsys):
    run = make_run(tmp_path / "run", saved_model("DNDM"))
    (run / "last_checkpoint").unlink()
    assert probe(run) == 2
    assert "no last_checkpoint" in _one_line_error(capsys, run)
    (run / "last_checkpoint").write_text("model_0009.pth")
    assert probe(run) == 2
    assert "model_0009.pth" in _one_line_error(capsys, run)


def test_folder_without_config_stops_with_one_line(probe, tmp_path, capsys):
    assert probe(tmp_path) == 2
    assert "no config.yaml" in _one_line_error(capsys, tmp_path)


def test_run_without_ngs_stops_with_one_line(data_root, saved_model, probe, tmp_path, capsys):
    saved = saved_model("DNDM")
    config = yaml.safe_load(Path(saved.config).read_text())
    config["MODEL"]["DNDM"]["NGS"]["ENABLED"] = False
    run = make_run(tmp_path / "no_ngs", saved, config=config)
    assert probe(run) == 2
    assert "MODEL.DNDM.NGS.ENABLED False" in _one_line_error(capsys, run)
