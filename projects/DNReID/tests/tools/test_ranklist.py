"""Rank lists of a day-night protocol: queries by day, gallery by night, borders that follow the
DN layout's ground truth."""
import json
from pathlib import Path

from PIL import Image

from vreid.visualization import RankRow
from vreid.visualization.canvas import MATCH, MISMATCH, QUERY, open_tile
from vreid.visualization.ranklist import ranklist_grid


def border_colours(png, grid, row, col):
    """Colours of the middle of a tile's left and top border."""
    left, top, right, bottom = grid.box(row, col)
    return {png.getpixel((left + 1, (top + bottom) // 2)), png.getpixel(((left + right) // 2, top + 1))}


def pid_of(path: str) -> int:
    """Ground truth from the DN layout itself: <domain>/<pid>/<image>."""
    return int(Path(path).parent.name)


def test_ranklist_borders_follow_ground_truth(data_root, saved_model, run_tool, tmp_path, capsys):
    out = tmp_path / "best.png"
    code = run_tool("visualize", "ranklist", "--protocol", "SynDN_D2N", "--select", "best", "--num", 4,
                    "--topk", 6, "--output", out, "--no-progress", *saved_model("Baseline").args())
    assert code == 0, capsys.readouterr().err
    rows = [RankRow(**row) for row in json.loads(out.with_suffix(".json").read_text())]
    grid = ranklist_grid(rows, (96, 96))
    png = Image.open(out).convert("RGB")
    assert png.size == grid.size and len(rows) == 4
    seen = set()
    for r, row in enumerate(rows):
        assert border_colours(png, grid, r, 0) == {QUERY}
        assert "/day/" in row.query_path and all("/night/" in g for g in row.gallery_paths)  # Day -> Night
        distances = [float(c[0].split()[-1]) for c in row.gallery_captions]
        assert distances == sorted(distances) and len(distances) == 6
        for c, gallery in enumerate(row.gallery_paths, start=1):
            left, top, right, bottom = grid.box(r, c)
            inside = png.crop((left + grid.border, top + grid.border, right - grid.border, bottom - grid.border))
            assert inside.tobytes() == open_tile(gallery, grid.tile).tobytes()  # the tile shows this image
            expected = MATCH if pid_of(gallery) == pid_of(row.query_path) else MISMATCH
            assert border_colours(png, grid, r, c) == {expected}, (r, c)
            seen.add(expected)
    assert seen == {MATCH, MISMATCH}  # both kinds were drawn, so the check compared something


def test_unknown_protocol_is_a_clear_error(data_root, saved_model, run_tool, capsys):
    code = run_tool("visualize", "ranklist", "--protocol", "SynDN_X2Y", "--no-progress",
                    *saved_model("Baseline").args())
    err = capsys.readouterr().err
    assert code == 2 and "unknown dataset 'SynDN_X2Y'" in err and "Traceback" not in err
