"""tools/benchmark.py serve on tiny sizes: both batching modes at each level of clients, every
search answered, figures positive, and the Markdown table one line per row."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_serve_measures_batched_and_one_at_a_time_at_each_level_of_clients(tmp_path, toy_env):
    run = subprocess.run([sys.executable, "tools/benchmark.py", "serve", "--config-file",
                          "tests/toy_project/configs/toy.yml", "--rows", "300", "--clients", "1", "3", "--searches",
                          "4", "--out", str(tmp_path)], cwd=ROOT, env=toy_env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = json.loads((tmp_path / "serve.json").read_text())["rows"]
    assert [(r["mode"], r["clients"]) for r in rows] == [("batched", 1), ("batched", 3), ("one at a time", 1),
                                                        ("one at a time", 3)]
    for row in rows:
        assert row["errors"] == 0 and row["searches"] == 4 * row["clients"]
        assert row["searches_per_s"] > 0 and 0 < row["p50_ms"] <= row["p99_ms"] and row["server_rss_mib"] > 0
    assert all(r["mean_batch"] == 1 for r in rows if r["mode"] == "one at a time")
    assert all(r["speedup"] > 0 for r in rows if r["mode"] == "batched")
    table = [line for line in (tmp_path / "serve.md").read_text().splitlines() if line.startswith("| ")][1:]
    assert len(table) == 4 and "300-row flat gallery" in (tmp_path / "serve.md").read_text()
