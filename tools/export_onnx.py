#!/usr/bin/env python
"""Export a trained model's inference graph to ONNX (dynamic batch size) and verify it with onnxruntime.

    python tools/export_onnx.py --config-file configs/synthetic/bot.yml --output bot.onnx \\
        MODEL.WEIGHTS output/demo/bot/model_final.pth
    python tools/export_onnx.py --config-file configs/synthetic/dndm.yml --output dndm.onnx \\
        MODEL.WEIGHTS output/demo/dndm/model_final.pth

Inputs: "images", float32 [batch, 3, H, W] raw 0-255 RGB at INPUT.SIZE_TEST (the graph normalises
as training does), and each labelled batch key the model reads, int64 [batch] (for day-night
models "domains": 0 day, 1 night). Output: "features", [batch, dim]. The export traces on the
CPU; the file's metadata_props repeat this.
"""
from __future__ import annotations

import argparse

from vreid.cli import add_model_arguments, run_cli
from vreid.config import load_model_config
from vreid.deploy import export_onnx, max_abs_diff
from vreid.deploy.images import input_size
from vreid.deploy.onnx_export import deployment_metadata, require
from vreid.errors import UserError
from vreid.modeling import eval_inputs, load_model
from vreid.outputs import check_output_file, writing
from vreid.projects import batch_keys, installed_projects


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, metavar="FILE.onnx", help="where to write the graph")
    parser.add_argument("--atol", type=float, default=1e-3,
                        help="largest |onnxruntime - PyTorch| accepted in the verification (default 1e-3)")
    parser.add_argument("--no-progress", action="store_true", help="no step messages")
    add_model_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for module in ("onnx", "onnxruntime"):  # missing: say so before minutes of work, not after
        require(module)
    check_output_file(args.output, "--output")
    cfg = load_model_config(args.config_file, args.opts, device="cpu")
    height, width = input_size(cfg)
    model = load_model(cfg)
    keys, declared = eval_inputs(model), batch_keys(installed_projects())
    with writing(args.output, "the ONNX graph"):
        inputs = export_onnx(model, keys, args.output, height, width, deployment_metadata(cfg, keys, declared),
                             declared, not args.no_progress)
    diff = max_abs_diff(args.output, model, keys, height, width, declared, progress=not args.no_progress)
    print(f"{cfg.MODEL.META_ARCHITECTURE} -> {args.output}: inputs {', '.join(inputs)} at {height}x{width}, "
          f"dynamic batch; max abs diff onnxruntime vs PyTorch: {diff:.2e}")
    if diff > args.atol:
        raise UserError(f"the exported graph differs from PyTorch by {diff:.2e} > --atol {args.atol:g}; "
                        f"do not deploy {args.output}")
    return 0


if __name__ == "__main__":
    run_cli(main)
