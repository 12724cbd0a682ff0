"""The generator's worker processes and size checks: rendering in processes writes the same
bytes as rendering here, a preset a layout has no sizes for is refused before anything is
written, and ``spread`` splits a total exactly and evenly."""
from pathlib import Path

import pytest
from toyreid import PROJECT as TOY

from vreid.errors import UserError
from vreid.synthetic import generate, spread


def _files(root: Path) -> dict[str, bytes]:
    base = root / "synthetic"
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def test_workers_write_the_same_bytes(tmp_path):
    here = generate(tmp_path / "here", preset="tiny", seed=5, projects=(TOY,))
    forked = generate(tmp_path / "forked", preset="tiny", seed=5, projects=(TOY,), workers=2)
    assert here == forked
    assert _files(tmp_path / "here") == _files(tmp_path / "forked")


def test_preset_without_sizes_is_refused_before_writing(tmp_path):
    with pytest.raises(UserError, match="dnwild preset has no sizes for the layout.* toy"):
        generate(tmp_path, preset="dnwild", projects=(TOY,))
    assert not (tmp_path / "synthetic").exists()


@pytest.mark.parametrize("total, parts", [(70_981, 1574), (2_610, 712), (5, 8), (0, 3), (12, 4)])
def test_spread_is_exact_and_even(total, parts):
    counts = spread(total, parts)
    assert len(counts) == parts and sum(counts) == total and max(counts) - min(counts) <= 1
    assert counts == spread(total, parts)
