"""tools/make_synthetic.py and tools/prepare_dataset.py never delete or overwrite what they did
not write: a target holding other files is refused in one line (``--overwrite`` replaces it),
their work is staged beside the target and renamed into place when complete, and an
unwritable place is one line naming it. A feature file is likewise replaced whole or not at all."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from vreid.data.prepare import copy_others, plan, resize_one, stage
from vreid.deploy import FeatureFile, Provenance, Rows, load_features, save_features
from vreid.errors import UserError
from vreid.projects import label_key

SYNTHETIC = ("--preset", "tiny", "--layouts", "veri", "--workers", 0)


def refusal(folder, count: int, names: str, tool: str, option: str) -> str:
    return (f"error: {folder} holds {count} file{'s' * (count > 1)} that {tool} did not write ({names}); choose "
            f"another {option}, or pass --overwrite to replace the folder and delete them\n")


def seed_of(folder) -> int:
    return json.loads((folder / ".complete").read_text())["seed"]


@pytest.fixture
def generated(tool, tmp_path, capsys):
    """The tiny VeRi-style layout under a new data root, and its folder."""
    assert tool("make_synthetic", "--root", tmp_path, *SYNTHETIC) == 0
    capsys.readouterr()
    return tmp_path / "synthetic" / "veri"


def test_regenerating_over_a_users_file_is_refused_and_keeps_everything(generated, tool, tmp_path, capsys):
    (generated / "notes.md").write_text("my notes\n")
    before = {p: p.read_bytes() for p in generated.rglob("*") if p.is_file()}
    assert tool("make_synthetic", "--root", tmp_path, "--seed", 1, *SYNTHETIC) == 2
    assert capsys.readouterr().err == refusal(generated, 1, "notes.md", "make_synthetic.py", "--root")
    assert {p: p.read_bytes() for p in generated.rglob("*") if p.is_file()} == before

    assert tool("make_synthetic", "--root", tmp_path, "--seed", 1, "--overwrite", *SYNTHETIC) == 0
    assert not (generated / "notes.md").exists() and seed_of(generated) == 1
    assert [p.name for p in generated.parent.iterdir()] == ["veri"]  # no staging folder left


def test_another_sets_images_are_listed_and_kept(generated, tool, tmp_path, capsys):
    extra = sorted((generated / "image_train").glob("*.jpg"))[:4]
    for path in extra:
        shutil.copy(path, path.with_name("9" + path.name[1:]))
    assert tool("make_synthetic", "--root", tmp_path, "--seed", 1, *SYNTHETIC) == 2
    listed = ", ".join(f"image_train/9{p.name[1:]}" for p in extra[:3]) + ", ..."
    assert capsys.readouterr().err == refusal(generated, 4, listed, "make_synthetic.py", "--root")
    assert all(path.with_name("9" + path.name[1:]).exists() for path in extra) and seed_of(generated) == 0


def test_every_layout_is_checked_before_any_is_written(generated, tool, tmp_path, capsys):
    both = ("--preset", "tiny", "--layouts", "veri", "vehiclex", "--workers", 0)
    assert tool("make_synthetic", "--root", tmp_path, *both) == 0
    vehiclex = tmp_path / "synthetic" / "vehiclex"
    (vehiclex / "notes.md").write_text("my notes\n")
    capsys.readouterr()
    assert tool("make_synthetic", "--root", tmp_path, "--seed", 1, *both) == 2
    assert capsys.readouterr().err == refusal(vehiclex, 1, "notes.md", "make_synthetic.py", "--root")
    assert seed_of(generated) == 0 and seed_of(vehiclex) == 0


def test_a_marker_from_before_file_lists_still_owns_its_files(generated, tool, tmp_path):
    marker = json.loads((generated / ".complete").read_text())
    del marker["files"]
    (generated / ".complete").write_text(json.dumps(marker))
    assert tool("make_synthetic", "--root", tmp_path, "--seed", 1, *SYNTHETIC) == 0
    assert seed_of(generated) == 1


@pytest.mark.parametrize("root, message", [
    ("/proc/vreid_no_such_root", "--root /proc/vreid_no_such_root/synthetic: cannot create this folder (No such file "
                                 "or directory); choose another"),
    ("{tmp}/plain/root", "--root {tmp}/plain/root/synthetic: cannot create this folder, {tmp}/plain is a file; "
                         "choose another"),
])
def test_an_unwritable_root_is_one_line(tool, tmp_path, capsys, root, message):
    (tmp_path / "plain").write_text("a file, not a folder\n")
    assert tool("make_synthetic", "--root", root.format(tmp=tmp_path), *SYNTHETIC) == 2
    assert capsys.readouterr().err == f"error: {message.format(tmp=tmp_path)}\n"


@pytest.fixture
def cams(tmp_path):
    """A source folder of three images and a list file."""
    source = tmp_path / "cams"
    source.mkdir()
    for i, size in enumerate([(400, 300), (300, 400), (50, 40)]):
        Image.new("RGB", size, (i * 60, 0, 0)).save(source / f"000{i}_c01.jpg")
    (source / "train_list.txt").write_text("0000_c01.jpg\n")
    return source


def prepare(tool, source, out, *extra):
    return tool("prepare_dataset", "--folder", source, "--output", out, "--workers", 0, "--no-progress", *extra)


def test_preparing_over_a_users_file_is_refused_and_keeps_it(cams, tool, tmp_path, capsys):
    out = tmp_path / "small"
    (out / "cams").mkdir(parents=True)
    (out / "cams" / "notes.md").write_text("my notes\n")
    assert prepare(tool, cams, out, "--longer-side", 100) == 2
    assert capsys.readouterr().err == refusal(out / "cams", 1, "notes.md", "prepare_dataset.py", "--output")
    assert [p.name for p in (out / "cams").iterdir()] == ["notes.md"]

    assert prepare(tool, cams, out, "--longer-side", 100, "--overwrite") == 0
    assert sorted(p.name for p in (out / "cams").iterdir()) == [".prepared.json", "0000_c01.jpg", "0001_c01.jpg",
                                                                  "0002_c01.jpg", "train_list.txt"]


def test_other_files_under_the_output_stay_and_new_settings_rewrite_the_copy(cams, tool, tmp_path, capsys):
    out = tmp_path / "small"
    (out / "drafts").mkdir(parents=True)
    (out / "drafts" / "report.part").write_text("a user's file that happens to end in .part\n")
    assert prepare(tool, cams, out, "--longer-side", 100) == 0
    assert prepare(tool, cams, out, "--longer-side", 100) == 0
    assert "0 written, 3 already there" in capsys.readouterr().out
    assert prepare(tool, cams, out, "--longer-side", 64) == 0
    assert "3 written, 0 already there" in capsys.readouterr().out
    assert Image.open(out / "cams" / "0000_c01.jpg").size == (64, 48)
    assert (out / "drafts" / "report.part").exists()


def test_an_interrupted_copy_is_staged_beside_its_target_and_resumed(cams, tool, tmp_path, capsys):
    out = tmp_path / "small"
    copy = plan(cams, out / "cams")
    stage(copy, 100, overwrite=False)
    assert resize_one(copy.images[0], 100) == "written"  # then the run is killed
    assert [p.name for p in out.iterdir()] == [".cams.partial"]
    assert prepare(tool, cams, out, "--longer-side", 100) == 0
    assert "2 written, 1 already there" in capsys.readouterr().out
    assert [p.name for p in out.iterdir()] == ["cams"]


def test_a_finished_copy_stays_whole_while_a_rerun_is_interrupted(cams, tool, tmp_path, capsys):
    out = tmp_path / "small"
    assert prepare(tool, cams, out, "--longer-side", 100) == 0
    before = {p.name: p.read_bytes() for p in (out / "cams").iterdir()}
    Image.new("RGB", (500, 200)).save(cams / "0003_c02.jpg")  # a new image, then a rerun killed after it
    copy = plan(cams, out / "cams")
    stage(copy, 100, overwrite=False)
    copy_others(copy.others)
    assert resize_one(copy.images[3], 100) == "written"
    assert {p.name: p.read_bytes() for p in (out / "cams").iterdir()} == before
    capsys.readouterr()
    assert prepare(tool, cams, out, "--longer-side", 100) == 0
    assert "0 written, 4 already there" in capsys.readouterr().out
    assert Image.open(out / "cams" / "0003_c02.jpg").size == (100, 40)


def test_an_unwritable_output_is_one_line(cams, tool, capsys):
    assert prepare(tool, cams, "/proc/vreid_no_such_output") == 2
    assert capsys.readouterr().err == ("error: --output /proc/vreid_no_such_output: cannot create this folder (No such "
                                       "file or directory); choose another\n")


def test_a_feature_file_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    path, key = str(tmp_path / "g.npy"), label_key()
    model = Provenance("cosine", "Baseline", "MODEL:\n  META_ARCHITECTURE: Baseline\n", "0" * 64, 4)
    first = np.arange(8, dtype=np.float32).reshape(2, 4)
    save_features(path, FeatureFile(first, Rows(["a.jpg", "b.jpg"], [None, None]), model), key)

    def disk_full(f, array):
        f.write(b"\x93NUMPY half a matrix")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "save", disk_full)
    with pytest.raises(UserError) as info:
        save_features(path, FeatureFile(first[:1], Rows(["a.jpg"], [None]), model), key)
    assert str(info.value) == f"cannot write the features {path}: No space left on device; is the disk full or the " \
                              "folder gone?"
    assert np.array_equal(load_features(path, key).features, first)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json", "g.npy"]
