#!/usr/bin/env python
"""Writes the synthetic datasets of the installed projects under <root>/synthetic/ and prints their sizes."""
import argparse
import os
import time
from pathlib import Path

from vreid.cli import run_cli
from vreid.synthetic import PRESETS, generate, layout_names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", default="datasets", help="data root; output goes to <root>/synthetic/")
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layouts", nargs="+", choices=layout_names(), default=list(layout_names()))
    parser.add_argument("--force", action="store_true", help="regenerate even if a matching marker exists")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a layout folder that holds files this tool did not write (deleting them)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="rendering processes (default: one per CPU; 0: in this process)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    counts = generate(args.root, args.preset, args.seed, args.layouts, force=args.force, progress=True,
                      workers=args.workers, overwrite=args.overwrite)
    print(f"{'layout':<10} {'split':<12} {'count':>6}")
    for layout, splits in counts.items():
        for split, n in splits.items():
            print(f"{layout:<10} {split:<12} {n:>6}")
    print(f"done in {time.perf_counter() - start:.1f}s -> {Path(args.root) / 'synthetic'}")


if __name__ == "__main__":
    run_cli(main)
