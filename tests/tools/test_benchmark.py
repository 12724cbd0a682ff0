"""tools/benchmark.py end to end, a test per subcommand on tiny sizes: the JSON holds the expected rows with
positive figures and the Markdown table one line per row. Subcommands whose rows run in worker processes run as a
subprocess in the toy's environment, so the workers discover the toy too."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BOT = "configs/Base-BoT.yml"  # fast-reid's Baseline, which needs no project
TOY = "tests/toy_project/configs/toy.yml"
ON_TOY = ["MODEL.BACKBONE.DEPTH", "18x", "MODEL.BACKBONE.FEAT_DIM", "512", "MODEL.BACKBONE.PRETRAIN", "False",
          "DATASETS.NAMES", "('ToyReID',)", "DATASETS.TESTS", "('ToyReID',)"]


def benchmark(env: dict[str, str], *argv: str) -> None:
    run = subprocess.run([sys.executable, "tools/benchmark.py", *argv], cwd=ROOT, capture_output=True, text=True,
                         env=env)
    assert run.returncode == 0, run.stderr[-3000:]


def table_lines(path: Path) -> list[str]:
    """The table's rows, header and rule left out."""
    return [line for line in path.read_text().splitlines() if line.startswith("| ")][1:]


def test_model_compares_entries_with_their_own_overrides(tmp_path, toy_env):
    benchmark(toy_env, "model", "--configs", BOT, f"{BOT} MODEL.BACKBONE.DEPTH 34x",
              "--measure", "train", "inference", "cost", "--iters", "1", "--warmup", "0", "--rounds", "1",
              "--out", str(tmp_path), "--opts", "MODEL.DEVICE", "cpu", "INPUT.SIZE_TRAIN", "32,32",
              "INPUT.SIZE_TEST", "32,32", "SOLVER.IMS_PER_BATCH", "8", "TEST.IMS_PER_BATCH", "8", *ON_TOY)
    report = json.loads((tmp_path / "benchmark.json").read_text())
    r18, r34 = report["results"]
    assert (r18["name"], r34["name"]) == (BOT, f"{BOT} MODEL.BACKBONE.DEPTH 34x")
    assert r34["params_m"] > 1.5 * r18["params_m"]  # ResNet-34 really was built for the second entry
    for row in (r18, r34):
        assert row["train_step_s"] > 0 and row["inference_images_per_s"] > 0 and row["gflops"] > 0
    table = (tmp_path / "benchmark.md").read_text()
    assert table.count(f"| {BOT}") == 2


def test_eval_times_the_evaluator_and_agrees_with_fast_reid(tmp_path, toy_env):
    benchmark(toy_env, "eval", "--sizes", "40x300", "--dim", "16", "--num-ids", "10", "--rerank", "--reference",
              "--repeat", "1", "--out", str(tmp_path))
    evaluator, reference = json.loads((tmp_path / "eval.json").read_text())["results"]
    assert evaluator["eval_shape"] == [40, 300, 16] and evaluator["eval_rerank"] == [20, 6, 0.3]
    assert evaluator["eval_s"] > 0 and evaluator["eval_peak_mib"] > 0
    assert reference["t_ours_s"] > 0 and reference["t_reference_s"] > 0
    assert reference["max_abs_diff_AP"] < 1e-6 and reference["num_differing_without_ties"] == 0
    assert [line.split(" | ")[0] for line in table_lines(tmp_path / "eval.md")] == [
        "| evaluation 40x300x16 (cpu), re-ranking 20,6,0.3", "| evaluate_rank against fast-reid 40x300x16 (cpu)"]


def test_io_renders_crops_of_an_installed_layout_and_times_them(tmp_path, run_tool):
    assert run_tool("benchmark", "io", "--crops", 3, "--crop-size", "320x240", "--size", "64x64", "--rounds", 1,
                    "--workers", 0, 1, "--prepared-side", 100, "--out", tmp_path) == 0
    report = json.loads((tmp_path / "decode.json").read_text())
    assert report["source"] == "3 JPEGs of 320x240 (synthetic layout toy)"  # the toy's is the only layout
    assert min(report["full_s"], report["draft_s"], report["prepared_s"]) > 0
    assert [sorted(rates) for rates in report["loader_images_per_s"].values()] == [["draft", "full", "prepared"]] * 2
    assert 0 <= report["mean_abs_diff"] <= report["max_abs_diff"]
    lines = table_lines(tmp_path / "decode.md")
    assert [line.split(" | ")[0] for line in lines] == [
        "| ms per image", "| loader images/s per worker, 0 workers", "| loader images/s per worker, 1 workers"]


def test_io_refuses_a_layout_no_project_declares(tmp_path, run_tool, capsys):
    assert run_tool("benchmark", "io", "--layout", "nowhere", "--out", tmp_path) == 2
    assert "--layout nowhere: choose one of toy" in capsys.readouterr().err


def test_index_measures_every_kind_against_exact_search(tmp_path, run_tool):
    assert run_tool("benchmark", "index", "--rows", 2000, "--dim", 32, "--clusters", 20, "--crops-per-id", 5,
                    "--queries", 50, "--nlist", 16, "--pq-m", 8, "--pq-nbits", 6, "--nprobe", 2, 8, "--hnsw-m", 8,
                    "--ef-construction", 16, "--ef-search", 8, 32, "--threads", 1, "--out", tmp_path) == 0
    rows = json.loads((tmp_path / "index.json").read_text())["rows"]
    assert [r["kind"] for r in rows] == ["flat", "ivfpq", "ivfpq", "hnsw", "hnsw"]
    assert rows[0]["recall_at_10"] == 1.0  # flat is the exact search recall is counted against
    assert all(r["queries_per_s"] > 0 and r["bytes"] > 0 and 0 < r["recall_at_10"] <= 1 for r in rows)
    lines = table_lines(tmp_path / "index.md")
    assert len(lines) == 5 and [" same index " in line for line in lines] == [False, False, True, False, True]


def test_gpu_smoke_reports_a_failing_row_and_runs_the_rest(tmp_path, toy_env):
    benchmark(toy_env, "gpu", "--smoke", "--configs", TOY, "tests/toy_project/configs/missing.yml",
              "--loader-config", TOY, "--data", str(tmp_path / "data"), "--out", str(tmp_path))
    results = json.loads((tmp_path / "gpu.json").read_text())["results"]
    toy, missing, evaluation, loader = results.values()
    assert list(results) == [f"{TOY}, eager", "tests/toy_project/configs/missing.yml, eager", "evaluation", "loader"]
    assert missing["error"].startswith("failed (exit 2): error: config file not found")
    assert toy["train_images_per_s"] > 0 and toy["train_peak_mib"] > 0
    assert evaluation["eval_shape"] == [200, 2000, 2048] and evaluation["eval_s"] > 0
    assert loader["loader_images_per_s"] > 0 and loader["loader_workers"] == 2
    lines = table_lines(tmp_path / "gpu.md")
    assert len(lines) == 4 and lines[0].endswith("| reference |") and "loader / training: " in lines[3]


def test_deploy_times_each_runtime_and_measures_its_accuracy(tmp_path, toy_env, toy_root, saved_model):
    saved = saved_model("Baseline")  # ResNet-18 at 64 px on the toy set
    env = {**toy_env, "FASTREID_DATASETS": str(toy_root.parents[1])}
    benchmark(env, "deploy", "--configs", f"{saved.config} MODEL.WEIGHTS {saved.weights}", "--batches", "1", "4",
              "--iters", "1", "--rounds", "1", "--accuracy", "--calibration-images", "16", "--bf16", "off",
              "--out", str(tmp_path))
    rows = json.loads((tmp_path / "deploy.json").read_text())["rows"]
    assert [r["runtime"] for r in rows] == ["pytorch-fp32", "pytorch-bf16: not measured, --bf16 off",
                                            "onnxruntime-fp32", "onnxruntime-int8"]
    fp32, _, ort32, int8 = rows
    rows = [fp32, ort32, int8]
    assert fp32["ratio_1"] == fp32["ratio_4"] == 1 and all(r["ips_1"] > 0 and r["ips_4"] > 0 for r in rows)
    assert ort32["least_cosine"] > 0.9999 and int8["least_cosine"] > 0.95  # exported, then quantised
    assert abs(ort32["ToyReID mAP"] - fp32["ToyReID mAP"]) < 0.1  # the same model: the same ranking
    assert all(0 <= r["ToyReID mAP"] <= 100 for r in rows)
    assert len(table_lines(tmp_path / "deploy.md")) == 4
