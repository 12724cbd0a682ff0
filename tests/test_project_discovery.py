"""How the core finds projects: the ``vreid.projects`` entry points of installed packages."""
import pytest

from vreid.errors import UserError
from vreid.projects import ENTRY_POINT_GROUP, SELECT_VARIABLE, installed_projects


def install(folder, name: str, value: str):
    """A distribution declaring one project entry point, as `pip install` writes it."""
    info = folder / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = {value}\n")


def test_an_entry_point_whose_package_is_gone_is_one_line_saying_what_to_run(tmp_path, monkeypatch):
    install(tmp_path, "goneproject", "goneproject:PROJECT")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(SELECT_VARIABLE, "goneproject")
    with pytest.raises(UserError, match=r"goneproject = goneproject:PROJECT names module goneproject, which is gone: "
                                        r"run `make venv`"):
        installed_projects()


def test_a_missing_dependency_inside_a_present_project_keeps_its_own_error(tmp_path, monkeypatch):
    install(tmp_path, "brokenproject", "brokenproject:PROJECT")
    (tmp_path / "brokenproject.py").write_text("import a_dependency_nobody_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(SELECT_VARIABLE, "brokenproject")
    with pytest.raises(ModuleNotFoundError, match="a_dependency_nobody_installed"):
        installed_projects()
