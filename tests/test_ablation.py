"""The ablation runner and its statistics, with a stand-in training script (the real trainings
run in the projects' quick-grid tests)."""
from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from vreid.ablation import as_json, estimate, load_grid, markdown, quick_grid, run_grid, summarise
from vreid.ablation.grid import Grid, Run
from vreid.ablation.runner import MARKER, grid_eta, is_finished
from vreid.ablation.stats import final_metrics, last_change
from vreid.errors import UserError

# Writes checkpoints as a training does, and a fast-reid-style metrics.json (a training line,
# then an evaluation line) whose mAP is 10 * run offset + seed, and logs each call; exits 1
# (after its checkpoints) when the run's opts say FAIL.
FAKE_TRAIN = '''
import json, os, sys
name, seed, folder, *opts = sys.argv[1:]
os.makedirs(folder, exist_ok=True)
with open(os.path.join(os.path.dirname(os.path.dirname(folder)), "calls.txt"), "a") as f:
    f.write(f"{name} {seed}\\n")
for checkpoint in ("model_0001.pth", "model_best.pth", "model_final.pth", "last_checkpoint"):
    open(os.path.join(folder, checkpoint), "w").close()
if "FAIL" in opts:
    print("error: the stand-in was told to fail")
    sys.exit(1)
offset = float(opts[opts.index("OFFSET") + 1]) if "OFFSET" in opts else 0.0
with open(os.path.join(folder, "metrics.json"), "w") as f:
    f.write(json.dumps({"iteration": 1, "total_loss": 1.0}) + "\\n")
    f.write(json.dumps({"P/Rank-1": 20 + offset + 2 * int(seed), "P/mAP": 10 * offset + int(seed),
                        "P/chance_Rank-1": 3.0, "P/chance_mAP": 5.0, "P/num_queries": 64.0,
                        "iteration": 2}) + "\\n")
'''


@pytest.fixture()
def fake(tmp_path):
    script = tmp_path / "fake_train.py"
    script.write_text(FAKE_TRAIN)

    def command(grid: Grid, run: Run, seed: int) -> list[str]:
        return [sys.executable, str(script), run.name, str(seed), grid.folder(run, seed), *grid.opts, *run.opts]
    return command


def calls(grid: Grid) -> list[str]:
    path = Path(grid.output) / "calls.txt"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def grid_of(tmp_path, runs, seeds=(0, 1, 2)) -> Grid:
    return Grid(tuple(runs), tuple(seeds), str(tmp_path / "out"), reference=runs[0].name)


def test_interval_and_paired_difference_match_scipy():
    a, b = [31.0, 24.5, 28.0, 30.5], [29.0, 25.0, 24.0, 27.5]
    e = estimate(a)
    low, high = scipy_stats.t.interval(0.95, len(a) - 1, loc=np.mean(a), scale=scipy_stats.sem(a))
    assert (e.n, e.mean) == (4, np.mean(a)) and e.sd == pytest.approx(np.std(a, ddof=1))
    assert (e.low, e.high) == pytest.approx((low, high))
    paired = estimate(np.subtract(a, b))
    ci = scipy_stats.ttest_rel(a, b).confidence_interval(0.95)
    assert (paired.low, paired.high) == pytest.approx((ci.low, ci.high))
    single = estimate([5.0])
    assert single.mean == 5.0 and math.isnan(single.sd) and math.isnan(single.low)


def test_grid_runs_summarises_and_skips_finished_runs(tmp_path, fake):
    grid = grid_of(tmp_path, [Run("ref", "a.yml"), Run("better", "a.yml", ("OFFSET", "1"))])
    lines: list[str] = []
    assert run_grid(grid, jobs=2, threads=1, command=fake, echo=lines.append) == []
    assert sorted(calls(grid)) == sorted(f"{r} {s}" for r in ("ref", "better") for s in (0, 1, 2))
    assert len(lines) == 6 and all("ETA" in line for line in lines) and lines[-1].startswith("[6/6]")
    results = {run.name: {s: final_metrics(str(Path(grid.folder(run, s)) / "metrics.json")) for s in grid.seeds}
               for run in grid.runs}
    rows = summarise(results, "ref")
    better = next(r for r in rows if r.run == "better")
    assert better.metrics["mAP"].mean == pytest.approx(11.0)  # 10 * 1 + mean seed 1
    diff = better.vs_reference["mAP"]  # the same +10 at every seed: a paired difference of zero width
    assert (diff.mean, diff.low, diff.high) == pytest.approx((10.0, 10.0, 10.0))
    assert better.chance == {"Rank-1": 3.0, "mAP": 5.0}
    text = markdown(rows, "ref", {"P": 64})
    assert "### P (chance rank-1 3.0 %, mAP 5.0 %, 64 queries)" in text
    assert "| `better` | 3 | 23.0 ± 2.0 [18.0, 28.0] | 11.0 ± 1.0 [8.5, 13.5] | +1.0 [+1.0, +1.0] | +10.0 [+10.0, +10.0] |" in text

    again: list[str] = []
    run_grid(grid, jobs=2, threads=1, command=fake, echo=again.append)
    assert again == ["6 of 6 runs already finished in " + grid.output + ": skipped"]
    assert len(calls(grid)) == 6


def test_last_period_change_is_the_convergence_column(tmp_path):
    """Each seed's last evaluation minus the one before, summarised over seeds: +2 then +4 mAP
    at seeds 0 and 1 give +3 [-9.7, +15.7]; a run evaluated once has no change to show."""
    def write(folder: Path, *maps: float) -> str:
        folder.mkdir(parents=True)
        lines = [json.dumps({"iteration": 1, "total_loss": 1.0})]
        lines += [json.dumps({"P/Rank-1": 50.0, "P/mAP": m, "iteration": 10 * (i + 1)}) for i, m in enumerate(maps)]
        (folder / "metrics.json").write_text("\n".join(lines) + "\n")
        return str(folder / "metrics.json")

    assert last_change(write(tmp_path / "a0", 5.0, 10.0, 12.0)) == {"P": {"Rank-1": 0.0, "mAP": 2.0}}
    assert last_change(write(tmp_path / "once", 7.0)) == {}
    results = {"a": {0: final_metrics(str(tmp_path / "a0" / "metrics.json")),
                     1: final_metrics(write(tmp_path / "a1", 9.0, 13.0))},
               "once": {0: final_metrics(str(tmp_path / "once" / "metrics.json"))}}
    changes = {"a": {0: last_change(str(tmp_path / "a0" / "metrics.json")),
                     1: last_change(str(tmp_path / "a1" / "metrics.json"))},
               "once": {0: {}}}
    rows = summarise(results, "", changes)
    change = rows[0].change["mAP"]
    assert (change.n, change.mean) == (2, 3.0)
    assert (change.low, change.high) == pytest.approx(scipy_stats.t.interval(0.95, 1, loc=3.0, scale=1.0))
    assert rows[1].change is None
    text = markdown(rows, "", {})
    assert "| run | seeds | Rank-1 % | mAP % | last period Δ mAP |" in text
    assert "| `a` | 2 | 50.0 ± 0.0 [50.0, 50.0] | 12.5 ± 0.7 [6.1, 18.9] | +3.0 [-9.7, +15.7] |" in text
    assert "| `once` | 1 | 50.0 | 7.0 | — |" in text
    assert "last period" not in markdown(summarise(results), "", {})  # no changes given: no column


def test_a_single_protocol_run_is_read_under_its_config_name(tmp_path):
    """fast-reid logs one test protocol's metrics without a prefix; the protocol's name comes from
    the run's config.yaml, and slashed keys that are no protocol (a probe's) are left out."""
    (tmp_path / "config.yaml").write_text("DATASETS:\n  TESTS: [SynOpri]\n")
    record = {"Rank-1": 8.0, "mAP": 7.5, "chance_Rank-1": 0.2, "num_queries": 400.0, "lr": 0.1, "iteration": 9,
              "probe/ci_identity_acc": 41.0, "probe/chance_ci_identity_acc": 0.3}
    (tmp_path / "metrics.json").write_text(json.dumps({"iteration": 1, "loss_cls": 5.0}) + "\n" + json.dumps(record) + "\n")
    assert final_metrics(str(tmp_path / "metrics.json")) == {
        "SynOpri": {"Rank-1": 8.0, "mAP": 7.5, "chance_Rank-1": 0.2, "num_queries": 400.0}}


def test_unfinished_run_restarts_and_another_command_is_refused(tmp_path, fake):
    grid = grid_of(tmp_path, [Run("ref", "a.yml")], seeds=(0, 1))
    run_grid(grid, 1, 1, fake, echo=lambda _: None)
    marker = Path(grid.folder(grid.runs[0], 1)) / MARKER
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "finished": False}))  # as after a kill
    run_grid(grid, 1, 1, fake, echo=lambda _: None)
    assert calls(grid) == ["ref 0", "ref 1", "ref 1"]
    changed = Grid(grid.runs, grid.seeds, grid.output, opts=("OFFSET", "3"))
    with pytest.raises(UserError, match=r"seed0 was run with another command.*delete that folder"):
        is_finished(changed, changed.runs[0], 0, fake(changed, changed.runs[0], 0))


def test_finished_runs_still_count_after_the_grid_folder_moves(tmp_path, fake):
    """A grid's results committed elsewhere (or a clone at another path) report without rerunning."""
    grid = grid_of(tmp_path, [Run("ref", "a.yml")], seeds=(0,))
    run_grid(grid, 1, 1, fake, echo=lambda _: None)
    moved = Grid(grid.runs, grid.seeds, str(tmp_path / "elsewhere"), reference="ref")
    shutil.copytree(grid.output, moved.output)
    marker = json.loads((Path(moved.folder(moved.runs[0], 0)) / MARKER).read_text())
    assert "{folder}" in marker["command"] and grid.output not in " ".join(marker["command"])
    assert is_finished(moved, moved.runs[0], 0, fake(moved, moved.runs[0], 0))
    lines: list[str] = []
    run_grid(moved, 1, 1, fake, echo=lines.append)
    assert lines == [f"1 of 1 runs already finished in {moved.output}: skipped"]


def test_failed_run_is_reported_and_the_rest_go_on(tmp_path, fake):
    grid = grid_of(tmp_path, [Run("ref", "a.yml"), Run("broken", "a.yml", ("FAIL", "1"))], seeds=(0,))
    lines: list[str] = []
    failed = run_grid(grid, 1, 1, fake, echo=lines.append)
    assert [(o.run.name, o.returncode) for o in failed] == [("broken", 1)]
    assert any("broken seed 0: FAILED (exit 1) error: the stand-in was told to fail" in line for line in lines)
    assert is_finished(grid, grid.runs[0], 0, fake(grid, grid.runs[0], 0))
    assert not is_finished(grid, grid.runs[1], 0, fake(grid, grid.runs[1], 0))


@pytest.mark.parametrize("keep, kept", [
    ("final", ["last_checkpoint", "model_final.pth"]),
    ("none", []),
    ("all", ["last_checkpoint", "model_0001.pth", "model_best.pth", "model_final.pth"])])
def test_a_finished_run_keeps_the_weights_asked_for_and_a_failed_one_all(tmp_path, fake, keep, kept):
    grid = grid_of(tmp_path, [Run("ref", "a.yml"), Run("broken", "a.yml", ("FAIL", "1"))], seeds=(0,))
    run_grid(grid, 1, 1, fake, echo=lambda line: None, keep=keep)

    def weights(run: Run) -> list[str]:
        return sorted(p.name for p in Path(grid.folder(run, 0)).iterdir() if "checkpoint" in p.name or p.suffix == ".pth")
    assert weights(grid.runs[0]) == kept
    assert weights(grid.runs[1]) == ["last_checkpoint", "model_0001.pth", "model_best.pth", "model_final.pth"]


def test_grid_file_and_its_quick_variant(tmp_path):
    config = tmp_path / "a.yml"
    config.write_text("MODEL: {}\n")
    path = tmp_path / "grid.yml"
    path.write_text(f"output: {tmp_path / 'out'}\nreference: b\nseeds: [0, 1, 2]\nopts: [K, 1]\n"
                    f"runs:\n  a: {{config: {config}}}\n  b: {{config: {config}, opts: [X, [64, 64]]}}\n"
                    f"  c: {{config: {config}}}\nquick: {{runs: [a, c], opts: [E, 1]}}\n")
    grid = load_grid(str(path))
    assert [r.name for r in grid.runs] == ["a", "b", "c"] and grid.runs[1].opts == ("X", "64,64")
    quick = quick_grid(grid, str(path))
    assert ([r.name for r in quick.runs], quick.seeds, quick.opts, quick.reference) == (["a", "c"], (0,), ("K", "1", "E", "1"), "a")
    assert quick.output == str(tmp_path / "out" / "quick")


@pytest.mark.parametrize("text, message", [
    ("output: o\nruns: {a: {config: missing.yml}}\n", r"grid.yml: run a: config file not found: missing.yml"),
    ("output: o\nrun: {}\n", r"grid.yml: unknown grid keys \['run'\]"),
    ("output: o\nseeds: [0, 0]\nruns: {a: {config: CFG}}\n", r"seeds \[0, 0\] repeat a seed"),
    ("output: o\nreference: z\nruns: {a: {config: CFG}}\n", r"reference 'z' is not one of the runs"),
    ("output: o\nreference: [a, z]\nruns: {a: {config: CFG}}\n", r"reference 'z' is not one of the runs"),
    ("output: o\nreference: [a, a]\nruns: {a: {config: CFG}}\n", r"references \['a', 'a'\] repeat a run"),
    ("output: o\nreference: [a, [b]]\nruns: {a: {config: CFG}}\n", r"reference must be a run name or a list"),
    ("output: o\nruns: {a b: {config: CFG}}\n", r"run name 'a b' must be"),
    ("runs: {a: {config: CFG}}\n", r"set 'output'"),
])
def test_bad_grid_files_name_file_and_key(tmp_path, text, message):
    config = tmp_path / "a.yml"
    config.write_text("MODEL: {}\n")
    path = tmp_path / "grid.yml"
    path.write_text(text.replace("CFG", str(config)))
    with pytest.raises(UserError, match=message):
        load_grid(str(path))


def test_grid_eta_shares_the_runs_left_among_the_jobs():
    # two 600 s runs done, 6 left, 2 at a time: three more rounds of 600 s
    assert grid_eta([600.0, 600.0], left=6, jobs=2) == 1800.0
    assert grid_eta([300.0, 900.0], left=3, jobs=1) == 1800.0
    assert grid_eta([600.0], left=0, jobs=2) == 0.0


def test_a_launcher_starts_each_run_and_the_run_stays_the_same(tmp_path, fake):
    """--launcher "torchrun ..." replaces the interpreter; the markers keep the command alone, so
    the finished runs count when the grid is run again without it."""
    launcher = tmp_path / "launcher.py"
    launcher.write_text("import os, sys\nopen(os.path.join(sys.argv[-1], '..', 'launched'), 'a').write('x')\n"
                        "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])\n")
    grid = grid_of(tmp_path, [Run("ref", "a.yml")], seeds=(0,))
    assert run_grid(grid, 1, 1, fake, echo=lambda _: None, launcher=[sys.executable, str(launcher)]) == []
    assert (Path(grid.folder(grid.runs[0], 0)).parent / "launched").read_text() == "x"
    assert is_finished(grid, grid.runs[0], 0, fake(grid, grid.runs[0], 0))


def test_a_path_is_paired_against_both_of_its_ends(tmp_path, fake):
    """``reference: [start, end]``: every run gets a pair of difference columns per reference, a
    reference none against itself; a grid with one reference writes its tables as before."""
    grid = replace(grid_of(tmp_path, [Run("start", "a.yml"), Run("step", "a.yml", ("OFFSET", "1")),
                                      Run("end", "a.yml", ("OFFSET", "3"))]), other_references=("end",))
    assert grid.references == ("start", "end")
    run_grid(grid, jobs=2, threads=1, command=fake, echo=lambda _: None)
    results = {run.name: {s: final_metrics(str(Path(grid.folder(run, s)) / "metrics.json")) for s in grid.seeds}
               for run in grid.runs}
    rows = summarise(results, "start", others=("end",))
    step = next(r for r in rows if r.run == "step")
    assert step.vs_reference["mAP"].mean == pytest.approx(10.0) and step.vs_others["end"]["mAP"].mean == pytest.approx(-20.0)
    text = markdown(rows, "start", {"P": 64}, others=("end",))
    assert "paired by seed against `start` and `end` [95 % interval]" in text
    assert "| run | seeds | Rank-1 % | mAP % | Δ Rank-1 vs start | Δ mAP vs start | Δ Rank-1 vs end | Δ mAP vs end |" in text
    assert "| `step` | 3 | 23.0 ± 2.0 [18.0, 28.0] | 11.0 ± 1.0 [8.5, 13.5] | +1.0 [+1.0, +1.0] | +10.0 [+10.0, +10.0] " \
           "| -2.0 [-2.0, -2.0] | -20.0 [-20.0, -20.0] |" in text
    assert "| `start` | 3 | 22.0 ± 2.0 [17.0, 27.0] | 1.0 ± 1.0 [-1.5, 3.5] | — | — | -3.0 [-3.0, -3.0] | -30.0 [-30.0, -30.0] |" in text
    assert "| `end` | 3 | 25.0 ± 2.0 [20.0, 30.0] | 31.0 ± 1.0 [28.5, 33.5] | +3.0 [+3.0, +3.0] | +30.0 [+30.0, +30.0] | — | — |" in text
    saved = json.loads(as_json(rows, "start", results, others=("end",)))
    assert saved["other_references"] == ["end"] and saved["rows"][1]["vs_others"]["end"]["mAP"]["mean"] == -20.0
    single = summarise(results, "start")
    assert markdown(single, "start", {"P": 64}).count("Δ mAP vs") == 1
    assert "vs_others" not in as_json(single, "start", results) and "other_references" not in as_json(single, "start", results)
    assert "vs_previous" not in as_json(single, "start", results) and "run above" not in markdown(single, "start", {})


def test_a_path_pairs_each_run_against_the_one_above(tmp_path, fake):
    """``path: true``: each step's own worth, start -> step +10 mAP, step -> end +20, one more column."""
    grid = replace(grid_of(tmp_path, [Run("start", "a.yml"), Run("step", "a.yml", ("OFFSET", "1")),
                                      Run("end", "a.yml", ("OFFSET", "3"))]), path=True)
    run_grid(grid, jobs=2, threads=1, command=fake, echo=lambda _: None)
    results = {run.name: {s: final_metrics(str(Path(grid.folder(run, s)) / "metrics.json")) for s in grid.seeds}
               for run in grid.runs}
    rows = summarise(results, "start", path=True)
    assert [r.vs_previous and r.vs_previous["mAP"].mean for r in rows] == [None, pytest.approx(10.0), pytest.approx(20.0)]
    text = markdown(rows, "start", {"P": 64}, path=True)
    assert "| run | seeds | Rank-1 % | mAP % | Δ Rank-1 vs start | Δ mAP vs start | Δ mAP vs the run above |" in text
    assert "| `end` | 3 | 25.0 ± 2.0 [20.0, 30.0] | 31.0 ± 1.0 [28.5, 33.5] | +3.0 [+3.0, +3.0] | +30.0 [+30.0, +30.0] " \
           "| +20.0 [+20.0, +20.0] |" in text
    saved = json.loads(as_json(rows, "start", results, path=True))
    assert saved["path"] is True and saved["rows"][0]["vs_previous"] is None
    assert saved["rows"][2]["vs_previous"]["mAP"]["mean"] == 20.0


def test_a_grid_file_lists_its_references_and_quick_keeps_those_it_runs(tmp_path):
    config = tmp_path / "a.yml"
    config.write_text("MODEL: {}\n")
    path = tmp_path / "grid.yml"
    path.write_text(f"output: {tmp_path / 'out'}\nreference: [a, c]\nruns:\n  a: {{config: {config}}}\n"
                    f"  b: {{config: {config}}}\n  c: {{config: {config}}}\nquick: {{runs: [b, c]}}\n")
    grid = load_grid(str(path))
    assert (grid.reference, grid.other_references) == ("a", ("c",)) and not grid.path
    quick = quick_grid(grid, str(path))
    assert (quick.reference, quick.other_references) == ("c", ())
    path.write_text(path.read_text() + "path: true\n")
    assert load_grid(str(path)).path and quick_grid(load_grid(str(path)), str(path)).path
    path.write_text(path.read_text().replace("path: true", "path: yes please"))
    with pytest.raises(UserError, match=r"grid\.yml: path must be true or false, got 'yes please'"):
        load_grid(str(path))


# A stand-in training that writes its pid and waits; SIGTERM makes it note that and exit like
# the trainer (128 + 15).
SLOW_TRAIN = '''
import os, signal, sys, time
name, seed, folder = sys.argv[1:4]
os.makedirs(folder, exist_ok=True)
def stop(signum, frame):
    open(os.path.join(folder, "stopped"), "w").close()
    sys.exit(128 + signum)
signal.signal(signal.SIGTERM, stop)
open(os.path.join(folder, "started"), "w").write(str(os.getpid()))
time.sleep(120)
'''

RUNNER = '''
import sys
from vreid.ablation import run_grid
from vreid.ablation.grid import Grid, Run
from vreid.cli import run_cli
out, script = sys.argv[1:3]
grid = Grid((Run("first", "a.yml"), Run("second", "a.yml")), (0,), out, reference="first")
command = lambda g, run, seed: [sys.executable, script, run.name, str(seed), g.folder(run, seed)]
run_cli(lambda: run_grid(grid, jobs=1, threads=1, command=command))
'''


def test_sigterm_to_the_runner_stops_its_runs_and_starts_no_more(tmp_path):
    """``kill`` on the runner reaches the training it runs (which stops at a checkpoint) and the
    queued run never starts; the runner exits like the trainer, 143, with one line."""
    (tmp_path / "train.py").write_text(SLOW_TRAIN)
    (tmp_path / "runner.py").write_text(RUNNER)
    out = tmp_path / "out"
    runner = subprocess.Popen([sys.executable, str(tmp_path / "runner.py"), str(out), str(tmp_path / "train.py")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = out / "first" / "seed0" / "started"
    deadline = time.monotonic() + 60
    while not started.exists() or not started.read_text():
        assert time.monotonic() < deadline and runner.poll() is None, runner.stdout.read()
        time.sleep(0.05)
    runner.send_signal(signal.SIGTERM)
    output, _ = runner.communicate(timeout=60)
    assert runner.returncode == 143, output
    assert (out / "first" / "seed0" / "stopped").exists()
    assert not (out / "second").exists()
    assert "first seed 0: stopped (exit 143)" in output
    assert output.strip().splitlines()[-1] == ("error: stopped by SIGTERM: the runs in progress stopped at their "
                                               "last checkpoint; run the same command again to go on")
    assert not json.loads((out / "first" / "seed0" / MARKER).read_text())["finished"]
