"""The core's import structure keeps its rules (README, "Layers"): only entry points import the
trainer, no two modules import each other (an import inside a function counts), only
``vreid.cli`` parses arguments, fast-reid's workarounds import only the bottom of the core, and
``import vreid`` loads neither the trainer nor the tools' machinery."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOTTOM = {"vreid.errors", "vreid.outputs", "vreid.progress", "vreid.projects"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "vreid").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """The vreid modules ``name`` imports anywhere in its file; ``from pkg import x`` counts as an
    import of ``pkg.x`` when that is a module, else of ``pkg``. Package faces (``__init__``)
    re-export, so an import of a package counts as an import of the package module itself."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names}
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}
FACES = {name for name, path in MODULES.items() if path.name == "__init__.py"}
STDLIB_ARGPARSE = "argparse"


def test_only_entry_points_import_the_trainer():
    importers = sorted(m for m, deps in GRAPH.items() if "vreid.engine.trainer" in deps)
    assert importers == ["vreid.engine"], importers  # the engine package hands it to the tools


def _cycle_from(start: str) -> list[str] | None:
    """A path of imports from ``start`` back to itself, through modules (package faces only re-export)."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for dep in GRAPH[node] - FACES:
            if dep == start:
                return path + [start]
            if dep not in seen:
                seen.add(dep)
                stack.append((dep, path + [dep]))
    return None


def test_no_two_modules_import_each_other():
    loops = [cycle for m in sorted(set(MODULES) - FACES) if (cycle := _cycle_from(m))]
    assert not loops, " ; ".join(" -> ".join(c) for c in loops[:3])


def test_only_the_cli_module_parses_arguments():
    users = sorted(m for m, path in MODULES.items()
                   if any(isinstance(n, (ast.Import, ast.ImportFrom)) and STDLIB_ARGPARSE in
                          ({a.name for a in n.names} if isinstance(n, ast.Import) else {n.module})
                          for n in ast.walk(ast.parse(path.read_text()))))
    assert users == ["vreid.cli"]


def test_compat_reaches_only_the_bottom_of_the_core():
    """fast-reid's workarounds install a few of vreid's implementations; those import nothing but
    the bottom modules, so applying the workarounds at ``import vreid`` pulls in no layer above."""
    for module in GRAPH["vreid.compat"]:
        above = GRAPH[module] - BOTTOM - {"vreid"}
        assert not above, f"vreid.compat imports {module}, which imports {sorted(above)}"


def test_import_vreid_loads_no_trainer_deploy_or_cli():
    code = ("import sys, vreid; print(' '.join(sorted(m for m in sys.modules if m.startswith('vreid'))))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    assert "vreid.compat" in loaded
    for heavy in ("vreid.engine.trainer", "vreid.deploy", "vreid.cli", "vreid.benchmark"):
        assert heavy not in loaded, loaded
