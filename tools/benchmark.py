#!/usr/bin/env python
"""Benchmarks, each writing JSON and a Markdown table to --out:

    python tools/benchmark.py model --configs configs/dnwild/bot.yml configs/dnwild/dndm.yml \\
        "configs/dnwild/dndm.yml MODEL.CHANNELS_LAST False" \\
        --opts MODEL.BACKBONE.PRETRAIN False INPUT.SIZE_TRAIN 128,128 SOLVER.IMS_PER_BATCH 64
    python tools/benchmark.py eval --sizes 2617x19568 10000x100000 [--rerank] [--reference]
    python tools/benchmark.py io [--folder my_crops/] [--size 256x256 --workers 0 1 2]
    python tools/benchmark.py index [--rows 200000 --kinds flat hnsw]
    python tools/benchmark.py gpu --out "$OUT"          # --smoke: the same rows on CPU, tiny
    python tools/benchmark.py deploy --configs configs/dnwild/bot.yml configs/dnwild/dndm.yml \
        --opts MODEL.BACKBONE.PRETRAIN False    # "PATH MODEL.WEIGHTS x.pth" entries and --accuracy: rank-1 / mAP too
    python tools/benchmark.py serve [--rows 100000 --clients 1 8 32 --searches 50] [--opts MODEL.WEIGHTS x.pth]

model: per config, training step time and images/s, inference images/s, peak memory (CUDA max allocated, or CPU
RSS), GFLOPs and parameters (fvcore), data-loader images/s; ratios against the first config. A config entry may
carry its own KEY VALUE overrides after the path, quoted as one argument, to compare switches of one config.
eval: ReidEvaluator's time and memory at each query x gallery size on clustered features (on the GPU when there
is one), optionally re-ranked; --reference also times pairwise distances, evaluate_rank and fast-reid's per-query
numpy loop (eval_market1501) on the same distances and checks that they agree.
io: full against draft JPEG decoding of large crops, with the test resize, and the loader per worker.
index: the gallery index kinds (exact flat, IVF-PQ, HNSW) at city scale on synthetic features: build time, index
size, memory growth, queries/s and recall against exact search, one row per search-time value.
deploy: CPU inference of each config through PyTorch fp32, PyTorch bf16 autocast, onnxruntime fp32 and onnxruntime
int8 (tools/export_onnx.py's graphs): images/s per batch size, ratios to PyTorch fp32, the share of the CPU's fp32
FMA peak, the features' least cosine to PyTorch fp32, and with --accuracy rank-1 / mAP on the config's test sets.
serve: tools/serve.py under load: searches/s and p50/p99 latency at 1, 8 and 32 concurrent clients against a
100k-row gallery, micro-batched and one at a time, the server's memory after each level (docs/serve.md).
gpu: the GPU check, within --budget seconds on one GPU: the training rows the installed projects declare, eager and
compiled, the evaluator at 10,000 x 100,000 and the training loader on a synthetic set it generates.

Model, eval and gpu rows each run in a fresh process (clean peak memory); model configs run in alternating rounds
and each figure is the best round, so a ratio compares configs measured under the same load.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import faiss
import torch
from PIL import Image

from vreid.cli import run_cli
from vreid.benchmark import (eval_columns, machine_line, markdown_table, measure_inference, measure_loader,
                             measure_train_step, model_columns, model_cost, write_report)
from vreid.benchmark import decode, deploy, gpu_check, index_kinds
from vreid.benchmark import serve as serve_load
from vreid.benchmark.evaluation import compare_with_reference, measure_eval
from vreid.benchmark.isolate import Budget, best_of_rounds, require, run_worker
from vreid.config import load_config
from vreid.deploy.index_params import IndexParams
from vreid.engine.fast_paths import configure_process
from vreid.errors import UserError
from vreid.projects import BenchmarkRow, installed_projects, synthetic_layouts
from vreid.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]
MEASURES = ("train", "inference", "cost", "loader")
OUTPUT = ROOT / "output" / "benchmark"  # every subcommand's default --out: their files have their own names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _model_arguments(sub.add_parser("model", help="training, inference, cost and loader figures of configs"))
    _eval_arguments(sub.add_parser("eval", help="evaluation time and memory; evaluate_rank against fast-reid's"))
    _io_arguments(sub.add_parser("io", help="full against draft JPEG decoding of large crops"))
    _index_arguments(sub.add_parser("index", help="the gallery index kinds at city scale"))
    _gpu_arguments(sub.add_parser("gpu", help="the GPU check, within a time budget"))
    _deploy_arguments(sub.add_parser("deploy", help="CPU inference runtimes: PyTorch fp32 / bf16, onnxruntime fp32 / int8"))
    _serve_arguments(sub.add_parser("serve", help="the search service under load, batched and one at a time"))
    return parser.parse_args(argv)


def _model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--configs", nargs="+", required=True,
                   help='config files, each optionally "PATH KEY VALUE ..." (quoted); the first is the reference')
    p.add_argument("--measure", nargs="+", choices=MEASURES, default=["train", "inference", "cost"],
                   help="what to measure per config (loader needs the dataset on disk)")
    p.add_argument("--iters", type=int, default=5, help="timed iterations per round")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds; best round kept")
    p.add_argument("--loader-batches", type=int, default=20,
                   help="loader batches timed after the first; raise it above workers x prefetch with many workers")
    p.add_argument("--out", type=Path, default=OUTPUT, help="benchmark.json and benchmark.md go here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE overrides for every config")


def _eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", nargs="+", default=["2617x19568"], metavar="QxG",
                   help="query x gallery sizes (default DN-Wild's 2617x19568)")
    p.add_argument("--dim", type=int, default=2048, help="feature dimension")
    p.add_argument("--num-ids", type=int, default=712, help="identities the features cluster around")
    p.add_argument("--rerank", nargs="?", const="20,6,0.3", default=None, metavar="K1,K2,LAMBDA",
                   help="time the evaluation with k-reciprocal re-ranking (default 20,6,0.3)")
    p.add_argument("--reference", action="store_true",
                   help="also compare evaluate_rank with fast-reid's per-query numpy loop (~100 s at DN-Wild's size)")
    p.add_argument("--max-rank", type=int, default=50, help="CMC ranks of the comparison")
    p.add_argument("--chunk-size", type=int, default=256, help="queries ranked at a time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3, help="best-of-N timing of the comparison's distances and ranking")
    p.add_argument("--out", type=Path, default=OUTPUT, help="eval.json and eval.md go here")
    p.add_argument("--worker", choices=("evaluator", "reference"), help=argparse.SUPPRESS)


def _io_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--folder", type=Path, help="JPEGs to read (default: synthetic crops, made once)")
    p.add_argument("--layout", help="synthetic layout of the crops (default: of the installed projects' layouts, the "
                                    "one whose cameras frame the vehicle tightest)")
    p.add_argument("--crops", type=int, default=24, help="synthetic crops to make")
    p.add_argument("--crop-size", default="2160x1800", metavar="WxH", help="synthetic crop size")
    p.add_argument("--size", default="256x256", metavar="WxH", help="the resize after decoding (INPUT.SIZE_TEST)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, nargs="*", default=[0, 1, 2], help="loader workers to time")
    p.add_argument("--prepared-side", type=int, default=320,
                   help="also time the loader on a tools/prepare_dataset.py copy at this longer side (0: no)")
    p.add_argument("--out", type=Path, default=OUTPUT, help="decode.json and decode.md go here")


def _index_arguments(p: argparse.ArgumentParser) -> None:
    d, s = IndexParams(), index_kinds.Synthetic()
    p.add_argument("--rows", type=int, default=s.rows, help="gallery rows")
    p.add_argument("--dim", type=int, default=s.dim)
    p.add_argument("--clusters", type=int, default=s.clusters, help="vehicle types the identities fall in")
    p.add_argument("--crops-per-id", type=int, default=s.crops_per_id)
    p.add_argument("--queries", type=int, default=s.queries)
    p.add_argument("--seed", type=int, default=s.seed)
    p.add_argument("--threads", type=int, default=faiss.omp_get_max_threads(), help="faiss (OpenMP) threads")
    p.add_argument("--kinds", nargs="+", choices=("flat", "ivfpq", "hnsw"), default=["flat", "ivfpq", "hnsw"],
                   help="flat is always measured: it gives the exact neighbours recall is counted against")
    p.add_argument("--nlist", type=int, default=d.nlist)
    p.add_argument("--pq-m", type=int, default=d.pq_m)
    p.add_argument("--pq-nbits", type=int, default=d.pq_nbits)
    p.add_argument("--nprobe", type=int, nargs="+", default=[8, d.nprobe, 64])
    p.add_argument("--hnsw-m", type=int, default=d.hnsw_m)
    p.add_argument("--ef-construction", type=int, default=d.ef_construction)
    p.add_argument("--ef-search", type=int, nargs="+", default=[32, d.ef_search, 128])
    p.add_argument("--out", type=Path, default=OUTPUT, help="index.json and index.md go here")


def _gpu_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", OUTPUT)),
                   help="gpu.md and gpu.json go here (default: $OUT, else output/benchmark)")
    p.add_argument("--data", type=Path, default=Path("/tmp/vreid-gpu-data"), help="data root of the loader's set")
    p.add_argument("--smoke", action="store_true", help="a tiny CPU run of every row (ResNet-18, 64 px, 2 iterations)")
    p.add_argument("--budget", type=float, default=570, help="seconds for all rows; later rows get what is left")
    p.add_argument("--configs", nargs="+", metavar="ENTRY",
                   help='training rows "PATH [KEY VALUE ...]" instead of those the installed projects declare')
    p.add_argument("--loader-config", metavar="ENTRY",
                   help="the loader row's config (reading a synthetic set) instead of the projects' loader rows")


def _deploy_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--configs", nargs="+", required=True,
                   help='config files, each optionally "PATH KEY VALUE ..." (quoted); with MODEL.WEIGHTS the trained '
                        "model, else a randomly initialised one")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64], help="batch sizes to time")
    p.add_argument("--iters", type=int, default=3, help="timed calls per batch size and round (median kept)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds over the runtimes; best kept")
    p.add_argument("--accuracy", action="store_true",
                   help="also rank-1 and mAP of every runtime on DATASETS.TESTS (needs MODEL.WEIGHTS and the data); "
                        "int8 is then calibrated on the training images")
    p.add_argument("--calibration-images", type=int, default=256, help="training images int8 calibrates on")
    p.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                   help="time bf16 autocast: auto where the CPU has a bf16 unit (AVX-512 BF16, AMX), else skipped")
    p.add_argument("--out", type=Path, default=OUTPUT, help="deploy.json and deploy.md go here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE overrides for every config")


def _serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config-file", default=str(ROOT / "configs" / "synthetic" / "bot.yml"),
                   help="the served model's config (default: the demo's ResNet-18); randomly initialised unless "
                        "--opts gives MODEL.WEIGHTS")
    p.add_argument("--rows", type=int, default=100_000, help="gallery rows (synthetic features, kept in --out)")
    p.add_argument("--kind", choices=("flat", "hnsw"), default="flat", help="the gallery's index kind")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32], help="concurrent clients, one level each")
    p.add_argument("--searches", type=int, default=50, help="searches per client at each level")
    p.add_argument("--k", type=int, default=10, help="hits per search")
    p.add_argument("--max-batch", type=int, default=32, help="the batched server's --max-batch")
    p.add_argument("--batch-wait-ms", type=float, default=5.0, help="the batched server's --batch-wait-ms")
    p.add_argument("--out", type=Path, default=OUTPUT, help="serve.json, serve.md and the gallery go here")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE overrides of the model config")


# --- model -----------------------------------------------------------------------------------------------------

def _overrides(opts: list[str]) -> list[str]:
    """`INPUT.SIZE_TRAIN 128,128` is accepted as shorthand for `[128, 128]`."""
    return [f"[{o}]" if "," in o and not o.startswith(("[", "(")) else o for o in opts]


def measure_config(config: str, args: argparse.Namespace) -> dict:
    """One config entry in this (fresh) process."""
    path, *own = shlex.split(config)  # the entry's own overrides win over the shared --opts
    cfg = load_config(path, _overrides(args.opts) + _overrides(own))
    configure_process(cfg)  # this worker process is set up as training sets its process up
    result: dict = {"name": config}
    if "cost" in args.measure:
        result.update(model_cost(cfg))
    if "train" in args.measure:
        result.update(measure_train_step(cfg, args.iters, args.warmup))
    if "inference" in args.measure:
        result.update(measure_inference(cfg, args.iters, 1))
    if "loader" in args.measure:
        result.update(measure_loader(cfg, args.loader_batches))
    result["device"] = cfg.MODEL.DEVICE
    return result


def model(args: argparse.Namespace) -> int:
    if args.worker:
        print(json.dumps(measure_config(args.configs[0], args)))
        return 0
    shared = ["--measure", *args.measure, "--iters", str(args.iters), "--warmup", str(args.warmup),
              "--loader-batches", str(args.loader_batches), "--opts", *args.opts]  # --opts last: it takes the rest

    def measure(config: str) -> dict:
        return require(run_worker([__file__, "model", "--worker", "--configs", config, *shared]), config)

    results = best_of_rounds(args.configs, args.rounds, measure)
    write_report(args.out, "benchmark", machine_line(), markdown_table(results, model_columns(results)),
                 {"torch": torch.__version__, "command": _command(), "results": results})
    return 0


def _command() -> str:
    return " ".join(shlex.quote(a) for a in sys.argv)


# --- eval ------------------------------------------------------------------------------------------------------

def _pair(text: str, flag: str, what: str) -> tuple[int, int]:
    """``what`` ("QUERYxGALLERY", "WIDTHxHEIGHT") as two numbers."""
    try:
        first, second = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"{flag} takes {what} (two whole numbers joined by x), got {text!r}") from None
    return first, second


def _rerank(text: str | None) -> tuple[int, int, float] | None:
    if text is None:
        return None
    try:
        k1, k2, lam = text.split(",")
        return int(k1), int(k2), float(lam)
    except ValueError:
        raise UserError(f"--rerank takes K1,K2,LAMBDA, e.g. 20,6,0.3; got {text!r}") from None


def eval_worker(args: argparse.Namespace) -> dict:
    q, g = _pair(args.sizes[0], "--sizes", "QUERYxGALLERY")
    if args.worker == "reference":
        return {"name": f"evaluate_rank against fast-reid {q}x{g}x{args.dim} (cpu)",
                **compare_with_reference(q, g, args.dim, args.num_ids, args.max_rank, args.chunk_size, args.seed,
                                         args.repeat)}
    rerank = _rerank(args.rerank)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = f"evaluation {q}x{g}x{args.dim} ({device})" + (f", re-ranking {args.rerank}" if rerank else "")
    return {"name": name, **measure_eval(q, g, args.dim, args.num_ids, device, args.chunk_size, rerank, args.seed)}


def evaluation(args: argparse.Namespace) -> int:
    if args.worker:
        print(json.dumps(eval_worker(args)))
        return 0
    for size in args.sizes:
        _pair(size, "--sizes", "QUERYxGALLERY")
    _rerank(args.rerank)
    shared = ["--dim", str(args.dim), "--num-ids", str(args.num_ids), "--max-rank", str(args.max_rank),
              "--chunk-size", str(args.chunk_size), "--seed", str(args.seed), "--repeat", str(args.repeat),
              *(["--rerank", args.rerank] if args.rerank else [])]
    workers = ["evaluator", "reference"] if args.reference else ["evaluator"]
    results = []
    for size in args.sizes:
        for worker in workers:
            print(f"{worker} {size}", file=sys.stderr, flush=True)
            argv = [__file__, "eval", "--worker", worker, "--sizes", size, *shared]
            results.append(require(run_worker(argv), f"{worker} {size}"))
    write_report(args.out, "eval", machine_line(), markdown_table(results, eval_columns(results)),
                 {"command": _command(), "results": results})
    return 0


# --- io --------------------------------------------------------------------------------------------------------

def _crops(args: argparse.Namespace) -> tuple[list[Path], str]:
    """The JPEGs of --folder, or synthetic crops of --layout, and where they come from."""
    if args.folder:
        paths = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
        if not paths:
            raise UserError(f"--folder {args.folder} holds no JPEG files")
        return paths, str(args.folder)
    layouts = decode.crop_layouts(synthetic_layouts(installed_projects()))
    if not layouts:
        raise UserError("no installed project declares a synthetic layout to render crops with: pass --folder DIR")
    names = [layout.name for layout in layouts]
    if args.layout is not None and args.layout not in names:
        raise UserError(f"--layout {args.layout}: choose one of {', '.join(names)}")
    layout = layouts[names.index(args.layout)] if args.layout else layouts[0]
    crop = _pair(args.crop_size, "--crop-size", "WIDTHxHEIGHT")
    folder = args.out / f"crops_{layout.name}_{crop[0]}x{crop[1]}"
    return decode.make_crops(folder, layout, args.crops, crop), f"synthetic layout {layout.name}"


def io(args: argparse.Namespace) -> int:
    size = _pair(args.size, "--size", "WIDTHxHEIGHT")
    paths, origin = _crops(args)
    side = args.prepared_side
    prepared = decode.prepare(paths, args.out / f"prepared_{side}", side) if side else []
    measured = decode.measure_decoding(paths, prepared, size, args.rounds, args.workers)
    worst, mean = decode.pixel_difference(paths, size)
    with Image.open(paths[0]) as first:
        source = f"{len(paths)} JPEGs of {first.size[0]}x{first.size[1]} ({origin})"
    summary = (f"{source}; after the resize, draft differs from full decoding by at most {worst:.0f} and on "
               f"average {mean:.2f} levels (0-255)")
    table = markdown_table(decode.decode_rows(measured), decode.decode_columns(size, side))
    write_report(args.out, "decode", machine_line(), f"{summary}\n\n{table}",
                 {"command": _command(), "source": source, "size": size, **measured, "max_abs_diff": worst,
                  "mean_abs_diff": mean})
    return 0


# --- index -----------------------------------------------------------------------------------------------------

def index(args: argparse.Namespace) -> int:
    faiss.omp_set_num_threads(args.threads)
    spec = index_kinds.Synthetic(args.rows, args.dim, args.clusters, args.crops_per_id, args.queries, args.seed)
    params = {"flat": IndexParams(), "ivfpq": IndexParams("ivfpq", nlist=args.nlist, pq_m=args.pq_m,
                                                          pq_nbits=args.pq_nbits),
              "hnsw": IndexParams("hnsw", hnsw_m=args.hnsw_m, ef_construction=args.ef_construction)}
    search_values = {"flat": [], "ivfpq": args.nprobe, "hnsw": args.ef_search}
    for kind in ("ivfpq", "hnsw"):
        params[kind].check(args.dim, args.rows, "the synthetic gallery")
    gallery, queries = index_kinds.clustered_gallery(spec)
    rows, exact = index_kinds.measure_kind(params["flat"], [], gallery, queries, None)
    for kind in (k for k in ("ivfpq", "hnsw") if k in args.kinds):
        rows += index_kinds.measure_kind(params[kind], search_values[kind], gallery, queries, exact)[0]
        print(f"{kind} measured", file=sys.stderr, flush=True)
    heading = (f"{args.rows:,} x {args.dim}-d gallery ({args.clusters} types, {args.crops_per_id} crops per identity), "
               f"{args.queries} queries in one batch, top-10, {args.threads} faiss threads")
    table = markdown_table(rows, index_kinds.index_columns(rows))
    write_report(args.out, "index", machine_line(), f"{heading}\n\n{table}",
                 {"command": _command(), "synthetic": vars(spec), "threads": args.threads, "rows": rows})
    return 0


# --- gpu -------------------------------------------------------------------------------------------------------

def _gpu_rows(args: argparse.Namespace, declared: list[BenchmarkRow]) -> list[BenchmarkRow]:
    """The command line's rows where given, else those the installed projects declare."""
    train = ([BenchmarkRow(entry, entry) for entry in args.configs] if args.configs
             else [r for r in declared if r.measure == "train"])
    loader = ([BenchmarkRow("loader", args.loader_config, "loader")] if args.loader_config
              else [r for r in declared if r.measure == "loader"])
    return train + loader


def gpu(args: argparse.Namespace) -> int:
    name = "smoke" if args.smoke else "gpu"
    mode = gpu_check.MODES[name]
    start = time.monotonic()
    projects = installed_projects()
    declared = _gpu_rows(args, gpu_check.declared_rows(projects))
    if any(r.measure == "loader" for r in declared):  # a loader row reads a synthetic set of an installed project
        layouts = [layout.name for layout in synthetic_layouts(projects) if layout.has_preset(mode.loader_preset)]
        generate(args.data, mode.loader_preset, layouts=layouts, progress=True, workers=gpu_check.CORES)
    rows = gpu_check.plan(declared, mode)
    budget = Budget(args.budget)
    env = {**os.environ, "FASTREID_DATASETS": str(args.data)}
    results = gpu_check.measure_rows(rows, mode, lambda argv, timeout: budget.run([__file__, *argv], timeout, env=env,
                                                                                   cwd=ROOT))
    machine = machine_line(f"{time.monotonic() - start:.0f} s in all")
    write_report(args.out, "gpu", machine, markdown_table(gpu_check.table_rows(rows, results), gpu_check.columns(name)),
                 {"command": _command(), "mode": name, "results": {r.name: res for r, res in zip(rows, results)}})
    return 0


# --- deploy ----------------------------------------------------------------------------------------------------

def deploy_worker(args: argparse.Namespace) -> dict:
    path, *own = shlex.split(args.configs[0])
    cfg = load_config(path, _overrides(args.opts) + _overrides(own))
    if args.accuracy and not cfg.MODEL.WEIGHTS:
        raise UserError(f"--accuracy needs trained weights: add MODEL.WEIGHTS to {args.configs[0]!r} or --opts")
    configure_process(cfg)
    with tempfile.TemporaryDirectory() as folder:
        return deploy.measure_deploy(cfg, args.batches, args.iters, args.rounds, args.accuracy,
                                     args.calibration_images, folder, args.bf16)


def deploy_benchmark(args: argparse.Namespace) -> int:
    if args.worker:
        print(json.dumps(deploy_worker(args)))
        return 0
    shared = ["--batches", *map(str, args.batches), "--iters", str(args.iters), "--rounds", str(args.rounds),
              "--calibration-images", str(args.calibration_images), "--bf16", args.bf16,
              *(["--accuracy"] if args.accuracy else []),
              "--opts", *args.opts]  # --opts last: it takes the rest
    nominal, how = deploy.fma_peak_gmacs(torch.get_num_threads())
    gemm = deploy.gemm_gmacs()  # before the workers, on a quiet machine
    peak = max(nominal, gemm)
    rows = []
    for entry in args.configs:
        print(f"deploy {entry}", file=sys.stderr, flush=True)
        measured = require(run_worker([__file__, "deploy", "--worker", "--configs", entry, *shared]), entry)
        rows += deploy.deploy_rows(entry, measured, peak)
    heading = (f"fp32 FMA peak {nominal:.0f} GMAC/s at the clock /proc/cpuinfo reports ({how}); a 2048² fp32 "
               f"matrix product measures {gemm:.0f} GMAC/s. A row's share of peak is the model's fvcore MACs at its "
               f"images/s over the larger, {peak:.0f} GMAC/s. " + ("Rank-1 / mAP on DATASETS.TESTS, int8 calibrated on training images. " if args.accuracy
                               else "Speed only: int8 calibrated on sample pixels. ")
               + "GPU rows (TensorRT, onnxruntime CUDA, fp16 / int8): not measured here.")
    table = markdown_table(rows, deploy.deploy_columns(rows))
    write_report(args.out, "deploy", machine_line(), f"{heading}\n\n{table}",
                 {"command": _command(), "peak_gmacs": nominal, "peak": how, "gemm_gmacs": gemm, "rows": rows})
    return 0


# --- serve -----------------------------------------------------------------------------------------------------

def serve_benchmark(args: argparse.Namespace) -> int:
    if min(args.rows, args.searches, args.k, args.max_batch, *args.clients) < 1:
        raise UserError("--rows, --searches, --k, --max-batch and --clients must be at least 1")
    folder = args.out / "serve"
    folder.mkdir(parents=True, exist_ok=True)
    embedder = serve_load.served_embedder(args.config_file, _overrides(args.opts), folder)
    crop = serve_load.query_crop(folder)
    gallery = serve_load.gallery(embedder, folder, args.rows, args.kind, crop)
    del embedder  # the servers load their own
    body, limits = serve_load.multipart(crop, args.k), ["--max-queue", str(4 * max(args.clients)), "--max-k",
                                                        str(max(args.k, 100))]
    modes = {"batched": ["--max-batch", str(args.max_batch), "--batch-wait-ms", str(args.batch_wait_ms)],
             "one at a time": ["--max-batch", "1", "--batch-wait-ms", "0"]}
    rows = [row for mode, flags in modes.items()
            for row in serve_load.measure_mode(gallery, mode, [*flags, *limits], body, args.clients, args.searches)]
    rows = serve_load.with_ratios(rows)
    heading = (f"tools/serve.py on a {args.rows:,}-row {args.kind} gallery, {os.path.basename(args.config_file)}, "
               f"k={args.k}; each client uploads a 256x256 JPEG {args.searches} times; batched: --max-batch "
               f"{args.max_batch} --batch-wait-ms {args.batch_wait_ms:g}")
    table = markdown_table(rows, serve_load.serve_columns())
    write_report(args.out, "serve", machine_line(), f"{heading}\n\n{table}", {"command": _command(), "rows": rows})
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return {"model": model, "eval": evaluation, "io": io, "index": index, "gpu": gpu,
            "deploy": deploy_benchmark, "serve": serve_benchmark}[args.command](args)


if __name__ == "__main__":
    run_cli(main)
