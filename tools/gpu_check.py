#!/usr/bin/env python
"""The prepared GPU check: the ``gpu`` test suite, then the GPU benchmark, in one command that stays
within --budget seconds (9 minutes) and leaves everything under --out.

    python tools/gpu_check.py prepare                       # here, with the network: .whl/ for the GPU machine
    python tools/gpu_check.py run --out "$OUT"              # there (make gpu-check OUT=$OUT), .whl carried
    python tools/gpu_check.py run --smoke --out /tmp/gpu    # a dry run of the same on the CPU

GPU machines here have PyTorch but no network: ``prepare`` fetches, for their Python (3.12), the
wheels of what this toolkit needs beyond their image (fastreid, faiss, fvcore, ...) and builds
this toolkit's own, into ``.whl/``; ``run`` installs them into a folder of its own, then runs
``pytest -m gpu`` (the suite in tests/gpu) and ``tools/benchmark.py gpu``. The files it leaves
(at most 8, the device tool's limit): env.txt, gpu_tests.log, gpu_tests.xml, gpu.md, gpu.json
and gpu_check.md, the summary.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / ".whl"
SITE = Path("/tmp/vreid-site")
TARGET_PYTHON = "3.12"  # the GPU machines' (the device tool's KINDS.md)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
# What the GPU image lacks of requirements-lock.txt (the rest is there): binary wheels fetched for
# its Python, pure-Python sources built into wheels here.
FETCH = ("fastreid", "faiss-cpu", "yacs", "termcolor", "gdown", "beautifulsoup4", "soupsieve")
BUILD = ("fvcore", "iopath")
TESTS_SHARE = 0.45  # of the budget, at most, for the test suite; the benchmark gets the rest


def pinned(names: tuple[str, ...]) -> list[str]:
    """``name==version`` of each, as requirements-lock.txt pins it."""
    lock = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            lock[name.lower().replace("_", "-")] = version
    return [f"{n}=={lock[n]}" for n in names]


def prepare() -> int:
    WHEELS.mkdir(exist_ok=True)
    for old in WHEELS.glob("*.whl"):
        old.unlink()
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "download", "--no-deps", "--only-binary=:all:", "--python-version", TARGET_PYTHON,
                    "--implementation", "cp", *(f"--platform={p}" for p in PLATFORMS), "-d", str(WHEELS),
                    *pinned(FETCH)], check=True)
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(WHEELS), *pinned(BUILD)], check=True)
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(WHEELS), str(ROOT)], check=True)
    size = sum(w.stat().st_size for w in WHEELS.glob("*.whl")) / 2 ** 20
    print(f"{len(list(WHEELS.glob('*.whl')))} wheels, {size:.0f} MiB -> {WHEELS}; carry '.whl' to the GPU machine")
    return 0


def install(env: dict[str, str]) -> str:
    wheels = sorted(str(w) for w in WHEELS.glob("*.whl"))
    if not wheels:
        return "no .whl/ carried: using what this Python has"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                    "--upgrade", "--target", str(SITE), *wheels], check=True, env=env)
    return f"installed {len(wheels)} wheels into {SITE}"


def environment(env: dict[str, str]) -> str:
    probe = ("import sys, torch; print('python', sys.version.split()[0]); print('torch', torch.__version__); "
             "print('cuda', torch.cuda.is_available() and torch.cuda.get_device_name()); "
             "import vreid, fastreid, faiss; print('vreid', vreid.__file__); "
             "from vreid.projects import installed_projects; print('projects', [p.name for p in installed_projects()])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT)
    return out.stdout + out.stderr


def run_tests(out: Path, env: dict[str, str], timeout: float) -> tuple[str, float]:
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "tests/gpu", "-q", "-rs", "-p", "no:cacheprovider",
               f"--junitxml={out / 'gpu_tests.xml'}"]
    with open(out / "gpu_tests.log", "w") as log:
        try:
            subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, timeout=timeout)
        except subprocess.TimeoutExpired:
            log.write(f"\ngpu_check: the suite was stopped after {timeout:.0f} s\n")
    return _test_counts(out / "gpu_tests.xml"), time.monotonic() - started


def _test_counts(xml: Path) -> str:
    if not xml.exists():
        return "no result (stopped or crashed): see gpu_tests.log"
    suite = ElementTree.parse(xml).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return (f"{passed} passed, {counts['failures']} failed, {counts['errors']} errors, "
            f"{counts['skipped']} skipped of {counts['tests']}")


def run(args: argparse.Namespace) -> int:
    start = time.monotonic()
    args.out = args.out.resolve()  # the tests and the benchmark run in ROOT: a relative --out means here
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TORCHINDUCTOR_CACHE_DIR": "/tmp/vreid-inductor"}
    if args.smoke:
        env["VREID_TEST_DEVICE"] = "cpu"
    else:  # this checkout's code first: the toolkit's wheel in SITE is there for its entry points
        code = [str(ROOT), str(ROOT / "projects" / "DNReID"), str(ROOT / "projects" / "JIFD")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in (*code, str(SITE), env.get("PYTHONPATH", "")) if p)
    installed = install(env) if not args.smoke else "dry run: this Python's packages"
    (args.out / "env.txt").write_text(f"{installed}\n{environment(env)}")
    tests, tests_s = run_tests(args.out, env, TESTS_SHARE * args.budget)
    left = args.budget - (time.monotonic() - start) - 15
    bench = [sys.executable, "tools/benchmark.py", "gpu", "--out", str(args.out), "--budget", f"{max(left, 30):.0f}"]
    subprocess.run([*bench, *(["--smoke"] if args.smoke else [])], env=env, cwd=ROOT, check=False)
    table = (args.out / "gpu.md").read_text() if (args.out / "gpu.md").exists() else "no benchmark table"
    summary = (f"# GPU check{' (dry run on the CPU)' if args.smoke else ''}\n\n{installed}\n\n"
               f"gpu tests: {tests}, {tests_s:.0f} s (gpu_tests.log)\n\n{table}\n"
               f"{time.monotonic() - start:.0f} s in all\n")
    (args.out / "gpu_check.md").write_text(summary)
    print(summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare", help="fetch and build .whl/ for the GPU machine (needs the network)")
    runner = sub.add_parser("run", help="the gpu suite, then the GPU benchmark")
    runner.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ROOT / "output" / "gpu_check")))
    runner.add_argument("--smoke", action="store_true", help="a dry run on the CPU (VREID_TEST_DEVICE=cpu)")
    runner.add_argument("--budget", type=float, default=540, help="seconds for everything (default 540)")
    args = parser.parse_args(argv)
    return prepare() if args.command == "prepare" else run(args)


if __name__ == "__main__":
    sys.exit(main())
