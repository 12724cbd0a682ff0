"""The benchmarks' harness (vreid.benchmark.isolate) on tiny Python workers, no model: a worker's JSON line, its
failure and its timeout as error rows, the shared budget, best-of-rounds merging; and the GPU check's generic plan
and comparison column on made-up rows and results."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from vreid.benchmark import markdown_table
from vreid.benchmark.gpu_check import MODES, columns, comparisons, plan, table_rows, worker_argv
from vreid.benchmark.isolate import Budget, best, best_of_rounds, require, run_worker
from vreid.errors import UserError
from vreid.projects import BenchmarkRow

FIRST = {"name": "a", "train_step_s": 2.0, "train_images_per_s": 8.0, "train_peak_mib": 100.0, "eval_before_mib": 5.0,
         "train_step_times_s": [2.0, 2.1], "loader_batches": 5}
SECOND = {"name": "b", "train_step_s": 1.0, "train_images_per_s": 16.0, "train_peak_mib": 90.0, "eval_before_mib": 7.0,
          "train_step_times_s": [1.0, 1.1], "loader_batches": 6}


def test_best_keeps_the_lower_time_the_higher_throughput_and_the_larger_memory():
    assert best(FIRST, SECOND) == {"name": "a", "train_step_s": 1.0, "train_images_per_s": 16.0,
                                   "train_peak_mib": 100.0, "eval_before_mib": 7.0,
                                   "train_step_times_s": [2.0, 2.1], "loader_batches": 5}
    assert best(SECOND, FIRST)["train_step_s"] == 1.0 and best(SECOND, FIRST)["train_peak_mib"] == 100.0


def test_best_of_rounds_alternates_the_tasks_and_merges_each_tasks_rounds():
    scripted = {"x": iter([FIRST, SECOND]), "y": iter([{"eval_s": 3.0}, {"eval_s": 4.0}])}
    calls = []

    def measure(task: str) -> dict:
        calls.append(task)
        return next(scripted[task])

    merged = best_of_rounds(["x", "y"], 2, measure)
    assert calls == ["x", "y", "x", "y"]
    assert merged == [best(FIRST, SECOND), {"eval_s": 3.0}]


def test_a_worker_result_is_its_last_json_line_with_its_wall_time():
    result = run_worker(["-c", "print('loading'); print('{\"eval_s\": 0.5}')"])
    assert result["eval_s"] == 0.5 and result["wall_s"] > 0


def test_a_failing_worker_is_an_error_row_with_its_exit_and_last_line(capsys):
    assert run_worker(["-c", "import sys; print('trace', file=sys.stderr); sys.exit('bad config')"]) == {
        "error": "failed (exit 1): bad config"}
    assert "trace\nbad config" in capsys.readouterr().err  # its whole stderr is passed on
    assert run_worker(["-c", "print('no result')"]) == {"error": "printed no JSON result"}


def _gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "\nState:\tZ" in status.read_text()


def test_a_worker_past_its_timeout_is_killed_with_the_processes_it_started(tmp_path):
    pid_file = tmp_path / "child.pid"
    code = ("import pathlib, subprocess, sys, time; "
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            f"pathlib.Path({str(pid_file)!r}).write_text(str(child.pid)); time.sleep(60)")
    start = time.monotonic()
    assert run_worker(["-c", code], timeout_s=2) == {"error": "timed out after 2 s"}
    assert time.monotonic() - start < 15  # the child holding the pipes did not keep us waiting
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(child)


def test_a_spent_budget_skips_the_remaining_rows():
    assert Budget(0).run(["-c", "print('{}')"], timeout_s=60) == {"error": "skipped: the time budget is spent"}
    assert Budget(60).run(["-c", "print('{\"eval_s\": 1.0}')"], timeout_s=60)["eval_s"] == 1.0


def test_require_stops_a_run_at_a_failed_measurement():
    assert require(FIRST, "a") is FIRST
    with pytest.raises(UserError, match=r"benchmarking cfg.yml failed \(exit 1\): boom; its output is above"):
        require({"error": "failed (exit 1): boom"}, "cfg.yml")


DECLARED = [BenchmarkRow("A", "a.yml"), BenchmarkRow("B", "b.yml"), BenchmarkRow("B without X", "b.yml X.ON False"),
            BenchmarkRow("loader", "s.yml", "loader")]


def test_the_gpu_check_plans_eager_rows_first_and_compiles_the_rows_without_overrides():
    rows = plan(DECLARED, MODES["gpu"])
    assert [r.name for r in rows] == ["A, eager", "B, eager", "B without X, eager", "evaluation", "loader",
                                      "A, compiled", "B, compiled"]
    assert [r.name for r in plan(DECLARED, MODES["smoke"])] == [r.name for r in rows[:5]]
    compiled = worker_argv(rows[-1], MODES["gpu"])
    assert compiled[:4] == ["model", "--worker", "--configs", "b.yml MODEL.COMPILE.ENABLED True"]
    assert worker_argv(rows[3], MODES["gpu"]) == ["eval", "--worker", "evaluator", "--sizes", "10000x100000", "--dim",
                                                  "2048"]


def _trained(step_s: float) -> dict:
    return {"train_step_s": step_s, "train_images_per_s": 64 / step_s, "train_peak_mib": 1000.0}


def test_the_gpu_check_compares_rows_generically():
    rows = plan(DECLARED, MODES["gpu"])
    loader = {"loader_images_per_s": 128.0, "loader_workers": 16, "loader_batches": 128, "loader_batch": 64}
    results = [_trained(1.0), _trained(1.25), _trained(0.9), {"error": "timed out after 150 s"}, loader, _trained(0.5),
               {"error": "timed out after 300 s"}]
    assert comparisons(rows, results) == [
        "reference", "step / A 1.25", "step / A 0.90; step / B 0.72", "",
        "loader / training: A 2.00, B 2.50, B without X 1.80", "compiled speed-up 2.00x", ""]
    table = markdown_table(table_rows(rows, results), columns("gpu")).splitlines()
    assert len(table) == 2 + len(rows) and table[5] == "| evaluation | timed out after 150 s |  |"
