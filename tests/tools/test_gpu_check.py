"""The prepared GPU check's own parts: every package it fetches or builds is pinned by the lock, and
it reads the suite's result from pytest's JUnit file (the run itself is dry-run by --smoke)."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "tools" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)


def test_every_wheel_it_carries_is_pinned_by_the_lock():
    pins = gpu_check.pinned(gpu_check.FETCH + gpu_check.BUILD)
    assert [p.split("==")[0] for p in pins] == list(gpu_check.FETCH + gpu_check.BUILD)
    assert all(p.split("==")[1] for p in pins)


def test_the_suites_counts_come_from_its_junit_file(tmp_path):
    xml = tmp_path / "r.xml"
    xml.write_text('<testsuites><testsuite tests="11" failures="1" errors="0" skipped="3"/></testsuites>')
    assert gpu_check._test_counts(xml) == "7 passed, 1 failed, 0 errors, 3 skipped of 11"
    assert gpu_check._test_counts(tmp_path / "none.xml").startswith("no result")
