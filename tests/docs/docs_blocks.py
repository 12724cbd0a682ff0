"""The command blocks of the documentation, read and run as a newcomer would run them.

A fenced block's info string says what the docs test does with it:

    ```bash                 run, in page order, by the suite (and by `make test-docs`)
    ```bash slow            run by `make test-docs` only (minutes: the demo, benchmarks, grids)
    ```bash background      started and left running for the page's later blocks (a server),
                            stopped when the page ends
    ```bash real-data       not run: needs a dataset that cannot be generated here
    ```bash gpu             not run: needs a CUDA device
    ```bash cluster         not run: needs several machines or a scheduler
    ```bash install         not run: changes the environment (`make venv` does it)
    ```bash suite           not run: the suite or CI itself (running it here would recurse)
    ```python ...           the same words; the block is run with `python -`
    ```python fragment      not run: part of a file, not a program (a module of a package that
                            a page assembles step by step, or a signature); the block's first line,
                            `# <file>`, names the file, which a test may compare it with (as
                            tests/test_new_project_walkthrough.py does for docs/new_project.md)
    ```text output          what the nearest run block above prints, checked for shape: each
                            line, with every number standing for any number, `...` for anything
                            and table cells unpadded, appears in the output in this order

A page's run blocks share one bash process (`set -e`, so a failing command stops the page), in
a scratch folder that stands for the repository root: the code, configs and environment are
linked, `docs/` is a copy, and everything a block writes (`datasets/`, `output/`) stays there.
Every page runs in the same scratch folder, and a block already run there with the same text
is not run again (unless its output is checked), except its `export` lines: pages start with the same setup block (generate
the small synthetic set, train the small models), which then costs its time once.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# What the scratch folder links from the repository (read-only for the blocks) and copies.
LINKED = ("tools", "configs", "projects", "vreid", "tests", "setup.py", "Makefile", "requirements-lock.txt",
          "pytest.ini", ".venv")
COPIED = ("docs", "datasets/README.md")
RUN_LABELS = {"": "run by the suite", "slow": "run by make test-docs only",
              "background": "started for the page's later blocks"}
SKIP_LABELS = {"real-data": "needs a dataset that cannot be generated here", "gpu": "needs a CUDA device",
               "cluster": "needs several machines or a scheduler",
               "install": "changes the environment", "suite": "the suite or CI itself",
               "fragment": "part of a file, not a program"}
LANGUAGES = ("bash", "python")
FENCE = re.compile(r"^(\s*)```(\S*)\s*(.*)$")
MARK = "@@docs-block {}@@"
_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:e[-+]?\d+)?%?", re.IGNORECASE)


@dataclass
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    language: str
    label: str
    text: str
    outputs: list[Block] = field(default_factory=list)  # the ```text output blocks that follow it

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.language in LANGUAGES and self.label in RUN_LABELS

    @property
    def reusable(self) -> bool:
        """Run once per scratch folder: what it leaves behind is all later blocks need (a server
        must run again, and a checked output must be printed again)."""
        return self.language == "bash" and self.label != "background" and not self.outputs

    def script(self) -> str:
        """The block as bash lines of the page's script."""
        if self.language == "python":
            return f"python - <<'DOCS_PYTHON_EOF'\n{self.text}\nDOCS_PYTHON_EOF"
        if self.label == "background":
            return f"( {self.text}\n) &\nDOCS_BACKGROUND+=($!)"
        return self.text

    def exports(self) -> str:
        return "\n".join(line for line in self.text.splitlines() if line.lstrip().startswith("export "))


def read_blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page`` (relative to the repository) with its language and label.
    An unknown label is an error, so a typo cannot turn a block off."""
    name = str(page.relative_to(REPO)) if page.is_relative_to(REPO) else str(page)
    blocks, lines, i = [], page.read_text().splitlines(), 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, language, label = match.groups()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise ValueError(f"{name}:{i + 1}: the fenced block is never closed")
        body = "\n".join(line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines[i + 1:end])
        block = Block(name, i + 1, language, label.strip(), body)
        if block.label == "output":
            runs = [b for b in blocks if b.runs]
            if not runs:
                raise ValueError(f"{block.where}: an output block with no run block above it")
            runs[-1].outputs.append(block)
        elif language in LANGUAGES and block.label not in RUN_LABELS | SKIP_LABELS:
            raise ValueError(f"{block.where}: unknown label {block.label!r} after ```{language}; "
                             f"one of {sorted(set(RUN_LABELS) | set(SKIP_LABELS) - {''})}")
        blocks.append(block)
        i = end + 1
    return blocks


def pages() -> list[Path]:
    """The pages a reader follows: the READMEs and docs/."""
    found = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "datasets" / "README.md",
             *sorted((REPO / "projects").glob("*/README.md"))]
    return [p for p in found if p.exists()]


def scratch_folder(path: Path) -> Path:
    """``path`` made to stand for the repository root (idempotent)."""
    path.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        target = path / name
        if not target.exists() and (REPO / name).exists():
            target.symlink_to(REPO / name)
    for name in COPIED:
        target = path / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, target)
    return path


def _done_file(scratch: Path) -> Path:
    return scratch / ".docs_blocks_run"


def _already_run(scratch: Path) -> set[str]:
    done = _done_file(scratch)
    return set(done.read_text().split("\0")) if done.exists() else set()


@dataclass
class PageRun:
    returncode: int
    output: str
    outputs: dict[int, str]  # block line -> what it printed (stdout and stderr)
    failed: Block | None
    skipped: list[Block]  # already run in this scratch folder


def run_page(blocks: list[Block], scratch: Path, slow: bool, timeout: float) -> PageRun:
    """Run the page's run blocks (``slow`` ones too when asked) in one bash process in ``scratch``."""
    chosen = [b for b in blocks if b.runs and (slow or b.label != "slow")]
    done = _already_run(scratch)
    parts = ["set -eo pipefail", "DOCS_BACKGROUND=()",
             'trap \'for p in "${DOCS_BACKGROUND[@]}"; do kill -- -$p $p 2>/dev/null; done\' EXIT', "set -m"]
    skipped = []
    for block in chosen:
        parts.append(f"echo '{MARK.format(block.line)}'")
        if block.text in done and block.reusable:
            skipped.append(block)
            parts.append(block.exports())
        else:
            parts.append(block.script())
    env = {k: v for k, v in os.environ.items() if k not in ("FASTREID_DATASETS", "VREID_PROJECTS", "PYTHONPATH")}
    env["PATH"] = f"{REPO / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(["bash", "-c", "\n".join(parts)], cwd=scratch, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    outputs, current = {}, None
    for line in proc.stdout.splitlines(keepends=True):
        mark = re.search(MARK.format(r"(\d+)") + "\n?$", line)  # after output that ended without a newline
        if mark and current is not None and mark.start():
            outputs[current] += line[:mark.start()] + "\n"
        if mark:
            current = int(mark.group(1))
            outputs[current] = ""
        elif current is not None:
            outputs[current] += line
    failed = next((b for b in chosen if b.line == current), None) if proc.returncode else None
    ran = [b.text for b in chosen if b.line in outputs and b is not failed and b.reusable]
    _done_file(scratch).write_text("\0".join(done | set(ran)))
    return PageRun(proc.returncode, proc.stdout, outputs, failed, skipped)


def _normalise(line: str) -> str:
    line = line.strip()
    if line.startswith("|"):
        cells = [c.strip() for c in line.strip("|").split("|")]
        line = "|" + "|".join("---" if c and set(c) <= set("-:") else c for c in cells) + "|"
    line = _NUMBER.sub("#", line)
    return re.sub(r"\s+", " ", line)


def _pattern(line: str) -> re.Pattern:
    pieces = [re.escape(piece) for piece in _normalise(line).split("...")]
    return re.compile(".*".join(pieces))


def missing_output(documented: str, printed: str) -> str | None:
    """The first documented line that the printed output lacks (in order), or None."""
    actual = [_normalise(line) for line in printed.splitlines()]
    position = 0
    for line in documented.splitlines():
        if not line.strip():
            continue
        pattern = _pattern(line)
        while position < len(actual) and not pattern.fullmatch(actual[position]):
            position += 1
        if position == len(actual):
            return line
        position += 1
    return None
