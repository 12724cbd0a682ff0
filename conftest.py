"""For every test folder: the test process is set up as the training entry point sets up its
process (heap reuse on glibc, vreid/engine/cpu_heap.py), so CPU training tests run at the speed
of real CPU training."""
from vreid.engine.cpu_heap import is_glibc, reuse_freed_memory


def pytest_configure(config) -> None:
    if is_glibc():
        reuse_freed_memory()
