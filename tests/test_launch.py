"""Jobs started the way clusters start them: torchrun (one machine, and two "machines" on this
one), srun's variables, and this toolkit's own flags; one writer per OUTPUT_DIR; a lost process
ends the job with one line; a resumed two-process run continues exactly where it stopped.

The multi-process tests train the toy model with gloo on CPU, each bounded in time."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vreid.engine.launch import external_placement, first_host, launch, serve_store, share_cores
from vreid.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
TRAIN_NET = str(ROOT / "tools" / "train_net.py")
TOY_CONFIG = str(ROOT / "tests" / "toy_project" / "configs" / "toy.yml")
# No random augmentation, so that a run's weights depend on its batches and schedule alone.
QUICK = ["MODEL.DEVICE", "cpu", "DATALOADER.NUM_WORKERS", "0", "SOLVER.MAX_EPOCH", "2", "TEST.EVAL_PERIOD", "100",
         "INPUT.FLIP.ENABLED", "False", "INPUT.PADDING.ENABLED", "False", "INPUT.REA.ENABLED", "False"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]


def free_port() -> int:
    """A port free now, for a launcher that needs one named (torchrun across machines, srun)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(toy_env, toy_root) -> dict[str, str]:
    return {**toy_env, "FASTREID_DATASETS": str(toy_root.parents[1])}


def _train(launcher: list[str], output: Path, env: dict, *opts: str, flags: tuple[str, ...] = ()
           ) -> subprocess.CompletedProcess:
    return subprocess.run([*launcher, TRAIN_NET, "--config-file", TOY_CONFIG, *flags, *QUICK, *opts,
                           "OUTPUT_DIR", str(output)], capture_output=True, text=True, env=env, timeout=240, cwd=ROOT)


def _world_lines(output: Path) -> list[str]:
    logs = sorted(output.glob("log.txt*"))
    return sorted(re.search(r"Rank of current process: \d+\. World size: \d+", line).group()
                  for log in logs for line in log.read_text().splitlines() if "Rank of current process" in line)


def test_torchrun_processes_join_one_job_with_one_writer(env, tmp_path):
    out = tmp_path / "run"
    run = _train([*TORCHRUN, "--standalone", "--nproc_per_node", "2"], out, env, "SOLVER.MAX_EPOCH", "3",
                 "TEST.EVAL_PERIOD", "1")
    assert run.returncode == 0, run.stderr[-3000:]
    assert _world_lines(out) == ["Rank of current process: 0. World size: 2", "Rank of current process: 1. World size: 2"]
    assert (out / "log.txt.rank1").exists()
    iterations = [json.loads(line)["iteration"] for line in (out / "metrics.json").read_text().splitlines()]
    assert iterations == sorted(set(iterations))  # one writer: every iteration once, in order
    events, = out.glob("events.out.tfevents.*")  # one TensorBoard writer too; what `tensorboard --logdir` shows:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board = EventAccumulator(str(events))
    board.Reload()
    assert {"total_loss", "lr", "Rank-1", "mAP"} <= set(board.Tags()["scalars"])
    assert len(board.Scalars("mAP")) == 2 and len(board.Scalars("total_loss")) >= 3  # evaluated after epochs 1, 2


def test_two_torchrun_machines_on_one_host(env, tmp_path):
    port = str(free_port())
    nodes = [subprocess.Popen([*TORCHRUN, "--nnodes", "2", "--node_rank", str(n), "--nproc_per_node", "1",
                               "--master_addr", "127.0.0.1", "--master_port", port, TRAIN_NET, "--config-file",
                               TOY_CONFIG, *QUICK, "SOLVER.MAX_EPOCH", "1", "OUTPUT_DIR", str(tmp_path / "run")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
             for n in (0, 1)]
    for node in nodes:
        _, err = node.communicate(timeout=240)
        assert node.returncode == 0, err[-3000:]
    assert _world_lines(tmp_path / "run") == ["Rank of current process: 0. World size: 2",
                                              "Rank of current process: 1. World size: 2"]


def test_srun_variables_make_a_job(env, tmp_path):
    """What srun sets for a two-task step on one node; the processes find each other through it."""
    step = {"SLURM_STEP_NUM_TASKS": "2", "SLURM_STEP_TASKS_PER_NODE": "2", "SLURM_STEP_NODELIST": "localhost",
            "SLURM_JOB_ID": "4242", "MASTER_PORT": str(free_port())}
    tasks = [subprocess.Popen([sys.executable, TRAIN_NET, "--config-file", TOY_CONFIG, *QUICK, "SOLVER.MAX_EPOCH", "1",
                               "OUTPUT_DIR", str(tmp_path / "run")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, env={**env, **step, "SLURM_PROCID": str(r), "SLURM_LOCALID": str(r)})
             for r in (0, 1)]
    for task in tasks:
        _, err = task.communicate(timeout=240)
        assert task.returncode == 0, err[-3000:]
    assert _world_lines(tmp_path / "run") == ["Rank of current process: 0. World size: 2",
                                              "Rank of current process: 1. World size: 2"]


def test_a_spawned_jobs_store_holds_its_port_from_the_start():
    """The port is never free between being picked and being served, so a job starting at the
    same moment (a parallel test suite) cannot take it."""
    store = serve_store()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s, pytest.raises(OSError):
        s.bind(("127.0.0.1", store.port))
    store.set("k", b"v")
    assert store.get("k") == b"v"


def test_placements_are_read_from_each_launcher():
    torchrun = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2",
                "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}
    placed = external_placement(torchrun)
    assert (placed.launcher, placed.rank, placed.local_rank, placed.world_size, placed.local_world_size) == \
        ("torchrun", 3, 1, 4, 2)
    assert placed.init_method == "env://"
    slurm = {"SLURM_PROCID": "5", "SLURM_LOCALID": "1", "SLURM_STEP_NUM_TASKS": "8", "SLURM_STEP_TASKS_PER_NODE": "4(x2)",
             "SLURM_STEP_NODELIST": "gpu[07-08]", "SLURM_JOB_ID": "123"}
    placed = external_placement(slurm)
    assert (placed.rank, placed.local_rank, placed.world_size, placed.local_world_size) == (5, 1, 8, 4)
    assert placed.init_method == "tcp://gpu07:15123"
    assert external_placement({"SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NTASKS": "2"}) is None  # sbatch, no srun
    assert external_placement({}) is None
    assert [first_host(n) for n in ("node[03-05,09],gpu1", "a1,a2", "solo")] == ["node03", "a1", "solo"]
    with pytest.raises(UserError, match="^torchrun set RANK='x', which is not an integer"):
        external_placement({**torchrun, "RANK": "x"})


def test_flags_that_contradict_the_launcher_are_one_line(monkeypatch):
    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": "1"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(UserError, match="^torchrun started this process as rank 0 of 2: leave out --num-gpus"):
        launch(lambda: None, 2)


def test_a_second_run_on_a_live_output_dir_is_refused(env, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from vreid.outputs import lock_output_dir; "
                               "lock_output_dir(sys.argv[1]); print('held', flush=True); time.sleep(120)",
                               str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "held"
        run = _train([sys.executable], tmp_path, env)
        assert run.returncode == 2 and "Traceback" not in run.stderr
        assert run.stderr.strip().splitlines()[-1].startswith(
            f"error: OUTPUT_DIR {tmp_path} is in use by another run (pid {holder.pid} on ")
        assert not (tmp_path / "config.yaml").exists()  # nothing of the live run was overwritten
    finally:
        holder.kill()
        holder.wait()
    run = _train([sys.executable], tmp_path, env, "SOLVER.MAX_EPOCH", "1")  # the dead holder's lock is stale
    assert run.returncode == 0, run.stderr[-3000:]


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux; torchrun starts its workers in sessions of their own)."""
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_a_killed_process_ends_the_job_with_one_line(env, tmp_path):
    port, lost_after = str(free_port()), 4
    nodes = [subprocess.Popen([*TORCHRUN, "--nnodes", "2", "--node_rank", str(n), "--nproc_per_node", "1",
                               "--master_addr", "127.0.0.1", "--master_port", port, TRAIN_NET, "--config-file",
                               TOY_CONFIG, *QUICK, "SOLVER.MAX_EPOCH", "200", "DIST.LOST_AFTER", str(lost_after),
                               "OUTPUT_DIR", str(tmp_path / "run")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=ROOT)
             for n in (0, 1)]
    log = tmp_path / "run" / "log.txt.rank1"
    deadline = time.monotonic() + 120
    while "Starting training" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in [*_children(nodes[1].pid), nodes[1].pid]:  # machine 1 is gone: its worker, then its torchrun agent
        os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    _, err = nodes[0].communicate(timeout=lost_after + 60)
    took = time.monotonic() - killed
    nodes[1].communicate()
    print(f"the surviving rank exited {took:.1f} s after its peer was killed (DIST.LOST_AFTER {lost_after})")
    assert nodes[0].returncode != 0 and took < lost_after + 30
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and lines[0].startswith("error: rank 0 of 2 stops: lost rank 1 (")
    assert "--resume continues from it" in lines[0]


def test_a_resumed_two_process_run_ends_where_the_uninterrupted_one_does(env, tmp_path):
    """Interrupted right after its first epoch's checkpoint: --resume continues at the next
    iteration, with the learning rate, optimizer state and sampler position the uninterrupted
    run had there, so both end with the same weights."""
    launcher = [*TORCHRUN, "--standalone", "--nproc_per_node", "2"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run = _train(launcher, whole, env, "SOLVER.MAX_EPOCH", "3", "SOLVER.STEPS", "[1]")  # the rate drops at epoch 1
    assert run.returncode == 0, run.stderr[-3000:]
    shutil.copytree(whole, cut, ignore=shutil.ignore_patterns("model_0001.pth", "model_final.pth", "model_best.pth"))
    (cut / "last_checkpoint").write_text("model_0000.pth")
    run = _train(launcher, cut, env, "SOLVER.MAX_EPOCH", "3", "SOLVER.STEPS", "[1]", flags=("--resume",))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Starting training from epoch 1" in (cut / "log.txt").read_text()
    expected = torch.load(whole / "model_final.pth", weights_only=True)
    got = torch.load(cut / "model_final.pth", weights_only=True)
    assert got["epoch"] == expected["epoch"] == 2
    assert got["lr_sched"]["_last_lr"] == expected["lr_sched"]["_last_lr"]  # 10x lower since epoch 1
    for name, value in expected["model"].items():
        torch.testing.assert_close(got["model"][name], value, rtol=1e-5, atol=1e-6, msg=name)


@pytest.fixture(scope="module")
def toy_weights(tmp_path_factory) -> str:
    """A randomly initialised toy model's checkpoint (its class count: the toy's training identities)."""
    from vreid.config import load_config
    from vreid.modeling import build_model
    from toyreid import PROJECT

    torch.manual_seed(0)
    model = build_model(load_config(TOY_CONFIG, ["MODEL.HEADS.NUM_CLASSES", "24"], projects=(PROJECT,)))
    path = tmp_path_factory.mktemp("toy_weights") / "model.pth"
    torch.save({"model": model.state_dict()}, path)
    return str(path)


def test_evaluation_by_two_processes_equals_one(env, toy_weights, tmp_path):
    worker = [str(ROOT / "tests" / "scripts" / "eval_worker.py"), TOY_CONFIG]
    opts = ["MODEL.WEIGHTS", toy_weights, "DATALOADER.NUM_WORKERS", "0", "TEST.IMS_PER_BATCH", "8"]
    metrics = {}
    for name, launcher in {"one": [sys.executable], "two": [*TORCHRUN, "--standalone", "--nproc_per_node", "2"]}.items():
        out = tmp_path / f"{name}.json"
        run = subprocess.run([*launcher, *worker, str(out), *opts], capture_output=True, text=True, env=env, timeout=240)
        assert run.returncode == 0, run.stderr[-3000:]
        metrics[name] = json.loads(out.read_text())
    assert (metrics["one"]["world_size"], metrics["two"]["world_size"]) == (1, 2)
    one, two = metrics["one"]["results"], metrics["two"]["results"]
    assert one.keys() == two.keys() and one["mAP"] > 0
    for key in one:
        assert two[key] == pytest.approx(one[key], abs=1e-6), key


def test_extraction_by_two_processes_writes_the_same_rows(env, toy_weights, toy_root, tmp_path):
    images = sorted(str(p) for p in (toy_root / "image_test").glob("*.jpg"))[:15]  # not a multiple of 2
    command = [str(ROOT / "tools" / "extract_features.py"), "--config-file", TOY_CONFIG, "--input", *images,
               "--no-progress"]
    for name, launcher in {"one": [sys.executable], "two": [*TORCHRUN, "--standalone", "--nproc_per_node", "2"]}.items():
        run = subprocess.run([*launcher, *command, "--output", str(tmp_path / f"{name}.npy"), "MODEL.WEIGHTS",
                              toy_weights, "DATALOADER.NUM_WORKERS", "0", "TEST.IMS_PER_BATCH", "4"],
                             capture_output=True, text=True, env=env, timeout=240)
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.stdout.count("15 features of dimension") == 1  # rank 0 alone writes and reports
    one, two = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert one["paths"] == two["paths"] == images
    np.testing.assert_allclose(np.load(tmp_path / "two.npy"), np.load(tmp_path / "one.npy"), atol=1e-6)


def test_the_processes_of_a_machine_share_its_cores_unless_omp_num_threads_says(monkeypatch):
    before, cores = torch.get_num_threads(), len(os.sched_getaffinity(0))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        share_cores(2)
        assert torch.get_num_threads() == max(1, cores // 2)
        share_cores(4 * cores)
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        torch.set_num_threads(before)
        share_cores(2)
        assert torch.get_num_threads() == before  # the user's setting stands
    finally:
        torch.set_num_threads(before)
