"""A tools/build_index.py index served as it is: imported on the first start (the index file is
never written), searched as tools/search.py searches it, behind a token when one is set, and
refused to other weights and to a second server."""
from __future__ import annotations

import hashlib
import time

import pytest

TOKEN = "s3cret"


def table_hits(stdout: str) -> list[tuple[str, float]]:
    """(image, distance) of every row of the tables tools/search.py printed."""
    rows = [line for line in stdout.splitlines() if line.startswith("|") and line.strip("|").split("|")[0].strip()
            .isdigit()]
    return [(cells[-1].strip(), float(cells[1])) for cells in (row.strip("|").split("|") for row in rows)]


@pytest.fixture(scope="module")
def built_index(tmp_path_factory, run_tool, only_toy, toy_model, crops):
    """An exact index of the first 24 crops, built by the tools."""
    folder, model = tmp_path_factory.mktemp("built"), toy_model()
    with only_toy():
        assert run_tool("extract_features", "--input", *crops[:24], "--output", folder / "f.npy", "--no-progress",
                        *model.args()) == 0
        assert run_tool("build_index", "--features", folder / "f.npy", "--index", folder / "built.faiss") == 0
    return folder / "built.faiss"


@pytest.fixture(scope="module")
def imported(built_index, launcher):
    """The index served with its token from the environment, a snapshot after every added row."""
    server = launcher(built_index, "--snapshot-every", 1, env={"VREID_SERVE_TOKEN": TOKEN}, token=TOKEN)
    yield server
    assert server.stop() == 0


def test_a_built_index_is_searched_as_search_py_searches_it(imported, built_index, run_tool, toy_installed, crops,
                                                            capsys):
    assert imported.health()["gallery"]["rows"] == 24
    query = crops[5]
    assert run_tool("search", "--index", built_index, "--query", query, "--topk", 5, "--no-progress") == 0
    expected = table_hits(capsys.readouterr().out)
    served = imported.hits(query, k=5)
    assert [h["name"] for h in served] == [path.rsplit("/", 1)[-1] for path, _ in expected]
    assert [h["distance"] for h in served] == pytest.approx([d for _, d in expected], abs=2e-4)
    assert served[0]["camera"] is None  # an index records paths, no camera: the service adds those


def test_crops_added_to_an_imported_index_never_write_the_index_file(imported, built_index, crops):
    before = hashlib.sha256(built_index.read_bytes()).hexdigest()
    added = imported.add(crops[30:32], [{"camera": "c01"}] * 2)
    assert added.status_code == 201 and added.json()["ids"] == [24, 25]
    assert imported.hits(crops[31], k=1)[0]["id"] == 25
    deadline = time.monotonic() + 30
    while imported.health()["gallery"]["snapshot_rows"] < 26:  # --snapshot-every 1: written in the background
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert built_index.with_name(built_index.name + ".snapshot").exists()
    assert hashlib.sha256(built_index.read_bytes()).hexdigest() == before  # tools/search.py still reads it


def test_every_route_needs_the_token_when_one_is_set(imported):
    routes = [("GET", "/"), ("GET", "/v1/health"), ("POST", "/v1/search"), ("POST", "/v1/gallery"),
              ("GET", "/v1/gallery/0/image"), ("GET", "/no/such/route")]
    for token in (None, "wrong", TOKEN + "-and-more", TOKEN[:-1]):
        for method, path in routes:
            headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
            response = imported.session.request(method, imported.url + path, headers=headers, timeout=30)
            assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
            assert response.json() == {"error": "this server needs its token: send the header Authorization: "
                                                "Bearer TOKEN (the page: open /?token=TOKEN)"}
    assert imported.request("GET", "/v1/gallery/0/image").status_code == 200
    page = imported.session.get(imported.url + f"/?token={TOKEN}", timeout=30)  # the page's way in: a cookie
    assert page.status_code == 200 and "httponly" in page.headers["set-cookie"].lower()
    assert imported.session.get(imported.url + "/v1/health", timeout=30).status_code == 200
    imported.session.cookies.clear()


def test_other_weights_and_a_second_server_are_refused_in_one_line(imported, built_index, toy_model, refused):
    other = toy_model(1)
    line = refused("--index", built_index, "--config-file", other.config, "MODEL.WEIGHTS", other.weights)
    assert line.startswith(f"error: {built_index} is served by another process (pid {imported.proc.pid})")
    copy = built_index.with_name("copy.faiss")
    copy.write_bytes(built_index.read_bytes())
    copy.with_name("copy.faiss.json").write_bytes(built_index.with_name("built.faiss.json").read_bytes())
    line = refused("--index", copy, "--config-file", other.config, "MODEL.WEIGHTS", other.weights)
    assert line.startswith(f"error: MODEL.WEIGHTS {other.weights} (SHA-256 ")
    assert f"is not the model that embedded {copy}.sqlite (" in line
