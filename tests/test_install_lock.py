"""The install lock: `.venv` holds exactly requirements-lock.txt, and the checker notices when not."""
from __future__ import annotations

import importlib.util
import platform
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-lock.txt"


def _lock_tool():
    spec = importlib.util.spec_from_file_location("tool_lock", ROOT / "tools" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lock = _lock_tool()


@pytest.mark.skipif(Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(),
                    reason="runs inside the Makefile's .venv, the environment the lock describes")
@pytest.mark.skipif((platform.system(), platform.machine(), sys.version_info[:2]) != ("Linux", "x86_64", (3, 11)),
                    reason="the lock is for Python 3.11 on Linux x86_64")
def test_venv_equals_the_lock():
    problems = lock.differences(lock.read_lock(LOCK), lock.installed())
    assert not problems, "run `rm -rf .venv && make test`, or `make lock` if intended:\n" + "\n".join(problems)


def test_lock_holds_the_makefiles_deliberate_pins():
    makefile = (ROOT / "Makefile").read_text()
    pins = re.search(r"^LOCK_PINS := (.+)$", makefile, re.M).group(1).split()
    locked = lock.read_lock(LOCK)
    for pin in pins:
        name, version = pin.split("==")
        assert locked[lock.canonical(name)] == version, pin


def test_differences_name_missing_changed_and_unlocked_packages():
    locked = {"numpy": "2.4.6", "torch": "2.14.1", "pyyaml": "6.0.4"}
    present = {"numpy": "2.4.6", "torch": "2.15.0", "requests": "2.34.2"}
    assert lock.differences(locked, present) == [
        "pyyaml: missing (lock: 6.0.4)",
        "requests: 2.34.2 installed but not in the lock",
        "torch: 2.15.0 installed, lock: 2.14.1",
    ]
    assert lock.differences(locked, dict(locked)) == []


def test_read_lock_normalises_names_and_refuses_a_line_without_a_version(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("# header\nPyYAML==6.0.4\nscikit_learn==1.9.1  # comment\n\n")
    assert lock.read_lock(good) == {"pyyaml": "6.0.4", "scikit-learn": "1.9.1"}
    bad = tmp_path / "bad.txt"
    bad.write_text("numpy==2.4.6\ntorch>=2.14\n")
    with pytest.raises(SystemExit, match=r"bad.txt:2: expected `name==version`"):
        lock.read_lock(bad)
