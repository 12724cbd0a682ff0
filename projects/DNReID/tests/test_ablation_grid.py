"""DNDM's ablation grid end to end: its quick variant trains two real runs on the tiny set and
writes the tables; running it again trains nothing."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GRID = ROOT / "configs" / "ablations" / "dndm_synthetic.yml"


def ablate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "ablate.py"), "--grid", str(GRID), "--quick", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)


def test_quick_grid_trains_reports_and_resumes(data_root, tmp_path):
    out = tmp_path / "grid"
    first = ablate("--output", str(out), "--jobs", "1")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    progress = [line for line in first.stdout.splitlines() if line.startswith("[")]
    assert len(progress) == 2 and progress[-1].startswith("[2/2]") and "grid ETA" in progress[-1]
    table = (out / "summary.md").read_text()
    for protocol in ("SynDN_D2N", "SynDN_N2D"):
        assert f"### {protocol} (chance rank-1" in table
    assert "| `dndm` | 1 |" in table and "| `dndm_modules_off` | 1 |" in table and "(1 seed)" in table
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference"] == "dndm" and len(summary["rows"]) == 4
    for row in summary["rows"]:
        assert 0 <= row["metrics"]["mAP"]["mean"] <= 100 and row["chance"]["mAP"] > 0
    assert (out / "summary.png").stat().st_size > 0
    again = ablate("--output", str(out), "--jobs", "1")
    assert again.returncode == 0 and "2 of 2 runs already finished" in again.stdout
    assert not [line for line in again.stdout.splitlines() if line.startswith("[")]
