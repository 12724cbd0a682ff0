#!/usr/bin/env python
"""Export a trained model to ONNX (dynamic batch size), verified against PyTorch with onnxruntime.

    python tools/export_onnx.py --config-file configs/synthetic/bot.yml MODEL.WEIGHTS output/demo/bot/model_final.pth
    python tools/export_onnx.py --config-file configs/synthetic/dndm.yml --profile tracker \\
        MODEL.WEIGHTS output/demo/dndm/model_final.pth
    python tools/export_onnx.py --config-file configs/synthetic/dndm.yml --profile tracker --precision int8 \\
        --calibration my_crops/ MODEL.WEIGHTS output/demo/dndm/model_final.pth

--profile raw (default): the model's inputs, "images" float32 [batch, 3, H, W] raw 0-255 RGB at
INPUT.SIZE_TEST (the graph normalises as training does) and each labelled key the model reads,
int64 [batch] ("domains" of day-night models: 0 day, 1 night). --profile tracker: one input,
RGB / 255 normalised with ImageNet mean/std at any size, as BoxMOT and other trackers feed a ReID
model; lighting decided inside; L2-normalised features. Output "features" [batch, dim]; the
file's metadata_props repeat all this. --precision fp16 (GPUs) or int8 (CPUs; static quantisation
calibrated on --calibration crops). The file goes beside MODEL.WEIGHTS unless --output names it,
and is only written once it passes the verification.
"""
from __future__ import annotations

import argparse
import os
import tempfile

from vreid.cli import add_model_arguments, run_cli, summary
from vreid.config import load_model_config
from vreid.deploy import Embedder
from vreid.deploy.images import read_inputs
from vreid.deploy.onnx_export import (PROFILES, agreement, build_graph, deployment_metadata, export_onnx,
                                      graph_file_name, require)
from vreid.deploy.onnx_precision import PRECISIONS, quantize_int8, to_fp16
from vreid.errors import UserError
from vreid.outputs import check_output_file, writing
from vreid.projects import batch_keys, installed_projects

MIN_COSINE = {"fp16": 0.999, "int8": 0.98}  # defaults of --min-cosine
CALIBRATION_IMAGES = 512  # read at most this many crops of --calibration


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--output", metavar="FILE.onnx",
                        help="where to write the graph (default: beside MODEL.WEIGHTS, named "
                             "<arch>_<backbone>_<profile>_<precision>.onnx, as trackers expect a name to say)")
    parser.add_argument("--profile", choices=PROFILES, default="raw", help="the graph's inputs (see above)")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    parser.add_argument("--calibration", metavar="DIR",
                        help="crops like the deployment's (folders, image files or list files; a few hundred): "
                             "int8 calibrates on them; every precision is also verified on them")
    parser.add_argument("--atol", type=float, default=1e-3,
                        help="fp32: largest |onnxruntime - PyTorch| accepted in the verification (default 1e-3)")
    parser.add_argument("--min-cosine", type=float,
                        help="fp16 / int8: least cosine similarity of an image's features to PyTorch's accepted "
                             f"(default {MIN_COSINE['fp16']} / {MIN_COSINE['int8']})")
    parser.add_argument("--no-progress", action="store_true", help="no step messages")
    add_model_arguments(parser)
    return parser.parse_args(argv)


def real_batches(embedder: Embedder, graph, source: str | None) -> list:
    """The graph's inputs for the crops of ``source`` (labels the model reads decided by their
    rule), in batches of TEST.IMS_PER_BATCH; none without a source."""
    if not source:
        return []
    entries = read_inputs([source])[:CALIBRATION_IMAGES]
    if not entries:
        raise UserError(f"--calibration {source} holds no images")
    entries = embedder.entries(entries, "auto" if embedder.reads_label else None)
    return [graph.feed(batch) for batch in embedder.loader(entries)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for module in ("onnx", "onnxruntime"):  # missing: say so before minutes of work, not after
        require(module)
    if args.precision == "int8" and not args.calibration:
        raise UserError("--precision int8 needs --calibration DIR: a folder of crops like the cameras' "
                        "(a few hundred), to set the activation ranges")
    cfg = load_model_config(args.config_file, args.opts, device="cpu")
    output = args.output or os.path.join(os.path.dirname(cfg.MODEL.WEIGHTS),
                                         graph_file_name(cfg, args.profile, args.precision))
    check_output_file(output, "--output")
    embedder = Embedder(cfg)
    graph = build_graph(cfg, embedder.model, args.profile, batch_keys(installed_projects()))
    progress = not args.no_progress
    real = real_batches(embedder, graph, args.calibration)
    with writing(output, "the ONNX graph"), \
            tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(output))) as scratch:
        fp32 = os.path.join(scratch, "fp32.onnx")
        inputs = export_onnx(graph, fp32, deployment_metadata(cfg, graph, args.precision), progress)
        exact = agreement(fp32, graph, graph.checks() + real, progress)
        final = os.path.join(scratch, f"{args.precision}.onnx")
        if args.precision == "fp16":
            to_fp16(fp32, final, progress)
        elif args.precision == "int8":
            quantize_int8(fp32, final, ({k: t.numpy() for k, t in zip(graph.inputs, b)} for b in real), progress)
        measured = exact if args.precision == "fp32" else agreement(final, graph, graph.checks() + real, progress)
        _accept(args, exact, measured, output)
        os.replace(final if args.precision != "fp32" else fp32, output)
    print(f"{cfg.MODEL.META_ARCHITECTURE} -> {output}: {args.profile} profile, {args.precision}, inputs "
          f"{', '.join(inputs)}, dynamic batch{' and size' if args.profile == 'tracker' else ''}; onnxruntime "
          f"vs PyTorch: {measured}")
    return 0


def _accept(args: argparse.Namespace, exact, measured, output: str) -> None:
    """Refuse a graph whose features are further from PyTorch than the tolerance."""
    if exact.max_abs_diff > args.atol:
        raise UserError(f"the exported graph differs from PyTorch by {exact.max_abs_diff:.2e} > --atol "
                        f"{args.atol:g}; {output} not written")
    least = args.min_cosine if args.min_cosine is not None else MIN_COSINE.get(args.precision)
    if least is not None and measured.min_cosine < least:
        raise UserError(f"the {args.precision} graph's features reach cosine {measured.min_cosine:.4f} to PyTorch's "
                        f"< --min-cosine {least:g}; {output} not written")


if __name__ == "__main__":
    run_cli(main)
