"""docs/new_project.md against the code it quotes, so the walkthrough and the toy project
(tests/toy_project, its executable form) cannot drift apart.

Every ```python fragment block of the page names its file in its first line (``# <path>`` from the
repository root, or ``# <module>``) and must be part of that file: a file of the toy project
exactly as written (less its module docstring), shown whole; any other as the same statements
in the same order, where ``...`` stands for what the block leaves out (a body, the rest of a
class) and comments may differ. The page's ```diff blocks must apply to today's setup.py and
pytest.ini and give the toy the entry point its tests install, and its lists of presets and
camera families are the core's.
"""
from __future__ import annotations

import ast
import configparser
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import setuptools

import vreid  # noqa: F401  (fast-reid's modules import after the compat patches)
from vreid.synthetic import PRESETS
from vreid.synthetic.camera import FAMILIES

sys.path.insert(0, str(Path(__file__).parent / "docs"))
from docs_blocks import REPO, Block, read_blocks  # noqa: E402

PAGE = REPO / "docs" / "new_project.md"
TOY = REPO / "tests" / "toy_project"
HEADER = re.compile(r"^# (\S+)\s*$")
STEP = re.compile(r"^## (\d+)\. ")


def _blocks(language: str, label: str | None = None) -> list[Block]:
    return [b for b in read_blocks(PAGE) if b.language == language and (label is None or b.label == label)]


def _source(block: Block) -> Path:
    """The file a quoted block names in its first line."""
    match = HEADER.match(block.text.splitlines()[0])
    assert match, f"{block.where}: a quoted block starts with '# <file>', the file it comes from"
    name = match.group(1)
    if "/" in name:
        assert (REPO / name).is_file(), f"{block.where}: {name} is not a file of the repository"
        return REPO / name
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin, f"{block.where}: no module {name}"
    return Path(spec.origin)


def _body(block: Block) -> str:
    return "\n".join(block.text.splitlines()[1:])


def _toy_text(path: Path) -> str:
    """A toy file as the page shows it: without its module docstring (or leading comment lines)."""
    lines = path.read_text().splitlines()
    if path.suffix == ".py":
        lines = lines[ast.parse(path.read_text()).body[0].end_lineno:]
    else:
        while lines and lines[0].startswith("#"):
            lines = lines[1:]
    return "\n".join(lines).strip()


def _toy_step(path: Path) -> int | None:
    """The walkthrough step a toy file says it is ("Step 3: ..." opening its docstring or comments)."""
    head = ast.get_docstring(ast.parse(path.read_text())) if path.suffix == ".py" else path.read_text()[2:]
    match = re.match(r"Step (\d+):", head or "")
    return int(match.group(1)) if match else None


def _step_of(block: Block) -> int | None:
    step = None
    for line in PAGE.read_text().splitlines()[:block.line]:
        match = STEP.match(line)
        if match:
            step = int(match.group(1))
        elif line.startswith("## "):
            step = None
    return step


# The comparison of a quoted block with its source, statement by statement.

def _elision(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node.value.value is Ellipsis


def _docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _named(node: ast.stmt) -> bool:
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))


def _header(node: ast.stmt) -> str:
    parts = [type(node).__name__, node.name, *map(ast.dump, node.decorator_list)]
    if isinstance(node, ast.ClassDef):
        return repr(parts + [ast.dump(b) for b in node.bases] + [ast.dump(k) for k in node.keywords])
    return repr(parts + [ast.dump(node.args), ast.dump(node.returns) if node.returns else ""])


def _first_line(node: ast.stmt) -> str:
    if _named(node):
        return f"{'class' if isinstance(node, ast.ClassDef) else 'def'} {node.name}"
    return ast.unparse(node).splitlines()[0]


def _difference(quoted: list[ast.stmt], source: list[ast.stmt], elided: bool) -> str | None:
    """Why ``quoted`` is not ``source`` (with ``elided``: not a subsequence of it), or None."""
    elided = elided or any(_elision(n) for n in quoted)
    quoted = [n for n in quoted if not _elision(n)]
    if source and _docstring(source[0]) and not (quoted and _docstring(quoted[0])):
        source = source[1:]  # a block may leave a docstring out
    position = 0
    for node in quoted:
        if _named(node):
            found = next((i for i in range(position, len(source))
                          if type(source[i]) is type(node) and source[i].name == node.name), None)
            if found is not None:
                if _header(node) != _header(source[found]):
                    return f"the signature of {_first_line(node)!r} differs from the source's"
                inner = _difference(node.body, source[found].body, elided=False)
                if inner:
                    return f"in {node.name}: {inner}"
        else:
            found = next((i for i in range(position, len(source)) if ast.dump(source[i]) == ast.dump(node)), None)
        if found is None:
            return f"{_first_line(node)!r} is not in the source (or not in this order)"
        if not elided and found != position:
            return f"the source has more before {_first_line(node)!r}; mark what is left out with ..."
        position = found + 1
    if not elided and position != len(source):
        return f"the source goes on with {_first_line(source[position])!r}; mark what is left out with ..."
    return None


def test_every_python_block_of_the_page_is_a_fragment_quoted_from_a_file():
    blocks = _blocks("python")
    assert blocks and all(b.label == "fragment" for b in blocks), [b.where for b in blocks if b.label != "fragment"]
    for block in blocks:
        source = _source(block)
        if source.is_relative_to(TOY):
            assert _body(block).strip() == _toy_text(source), \
                f"{block.where} is not {source.relative_to(REPO)} as written (less its module docstring)"
            continue
        problem = _difference(ast.parse(_body(block)).body, ast.parse(source.read_text()).body, elided=True)
        assert problem is None, f"{block.where}, quoting {source}: {problem}"


def test_the_page_shows_every_file_of_the_toy_project_under_the_step_that_writes_it():
    quoted = {}
    for block in _blocks("python", "fragment") + _blocks("yaml"):
        source = _source(block)
        if source.is_relative_to(TOY):
            assert source not in quoted, f"{block.where}: {source.relative_to(REPO)} is shown twice"
            quoted[source] = block
    files = {p for p in TOY.rglob("*") if p.suffix in (".py", ".yml") and "__pycache__" not in p.parts}
    assert set(quoted) == files
    yaml_block = quoted[TOY / "configs" / "toy.yml"]
    assert _body(yaml_block).strip() == _toy_text(TOY / "configs" / "toy.yml"), yaml_block.where
    for path, block in quoted.items():
        step = _toy_step(path)
        assert step is None or step == _step_of(block), \
            f"{path.relative_to(REPO)} says it is step {step}; the page shows it under step {_step_of(block)}"
    tree = next(b for b in _blocks("text") if _step_of(b) == 1)
    package = {p.name for p in (TOY / "toyreid").glob("*.py")}
    assert set(re.findall(r"\b\w+\.py\b", tree.text)) == package, tree.where


def _patched(block: Block) -> tuple[str, str]:
    """The file a ```diff block edits and its text with the block applied (each hunk's old lines
    must appear exactly once)."""
    lines = block.text.splitlines()
    assert lines[0].startswith("--- a/") and lines[1].startswith("+++ b/"), block.where
    name = lines[1][len("+++ b/"):]
    text = (REPO / name).read_text()
    hunks, hunk = [], None
    for line in lines[2:]:
        if line.startswith("@@"):
            hunk = ([], [])
            hunks.append(hunk)
        else:
            mark, content = line[:1], line[1:]
            assert mark in " -+", f"{block.where}: {line!r}"
            if mark in " -":
                hunk[0].append(content)
            if mark in " +":
                hunk[1].append(content)
    for old, new in hunks:
        before, after = "\n".join(old) + "\n", "\n".join(new) + "\n"
        assert text.count(before) == 1, f"{block.where}: {name} does not hold these lines once:\n{before}"
        text = text.replace(before, after)
    return name, text


def test_the_setup_py_lines_give_the_toy_the_entry_point_its_tests_install(monkeypatch, toy_dist):
    patched = dict(_patched(b) for b in _blocks("diff"))
    assert set(patched) == {"setup.py", "pytest.ini"}
    captured = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: captured.update(kwargs))
    monkeypatch.chdir(REPO)
    exec(compile(patched["setup.py"], "setup.py", "exec"), {"__name__": "__main__"})
    installed = (toy_dist / "toyreid-0.1.dist-info" / "entry_points.txt").read_text().splitlines()
    assert installed == ["[vreid.projects]", "toyreid = toyreid:PROJECT"]
    assert installed[1] in captured["entry_points"]["vreid.projects"]
    assert captured["package_dir"]["toyreid"] == "projects/Toy/toyreid"
    ini = configparser.ConfigParser()
    ini.read_string(patched["pytest.ini"])
    assert "projects/Toy/tests" in ini["pytest"]["testpaths"].split()


def test_removing_a_project_names_every_file_outside_its_folder_that_the_steps_edit():
    text = PAGE.read_text()
    removal = text[text.index("\n## Removing a project"):]
    for name in ("setup.py", "pytest.ini", "configs/"):
        assert f"`{name}" in removal, name
    edited = {_patched(b)[0] for b in _blocks("diff")}
    assert all(f"`{name}`" in removal for name in edited)


@pytest.mark.parametrize(("sentence", "names"), [("The presets are", PRESETS), ("The camera families are", FAMILIES)])
def test_the_lists_the_page_gives_are_the_cores(sentence, names):
    text = " ".join(PAGE.read_text().split())
    listed = re.findall(r"`(\w+)`", re.split(r"[.;]", text[text.index(sentence):], maxsplit=1)[0])
    assert listed == list(names)
