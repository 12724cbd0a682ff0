"""JIFD's ablation grid: every run's config and overrides load (a mistyped key would stop the
grid before its first training), and a mistyped one is named with its run."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def ablate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "ablate.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_grid_configs_load_and_a_bad_key_names_its_run(tmp_path):
    grid = ROOT / "configs" / "ablations" / "jifd_synthetic.yml"
    for extra in ((), ("--quick",)):
        done = ablate("--grid", str(grid), "--check", *extra)
        assert done.returncode == 0 and "every config loads" in done.stdout, done.stderr
    bad = ablate("--run", "jifd", "configs/synthetic/jifd.yml", "MODEL.JIFD.VAE.ENABLD", "False",
                 "--output", str(tmp_path), "--check")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == "error: run jifd: unknown config key MODEL.JIFD.VAE.ENABLD on the command line"
