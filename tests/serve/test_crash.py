"""kill -9 during an add leaves the faiss index and the database one gallery: nothing of an add
the kill cut short, nothing lost that was acknowledged. At the steps where two files could part
(VREID_SERVE_CRASH_AT, a real SIGKILL of the process at that step), and from outside, at
whatever moment the kill lands, on a running server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from vreid.deploy.index_params import IndexParams
from vreid.deploy.provenance import Provenance
from vreid.errors import UserError
from vreid.serve.fields import Filter, RowMeta
from vreid.serve.store import NewRow, create_store, open_store

DIM = 16
MODEL = Provenance("cosine", "ToyNet", "MODEL: {}\n", "ab" * 32, DIM)
# For each (step, gallery) pair on its command line, a forked process adds two rows to the gallery
# (snapshots every 2 rows) and is killed at that step; the parent says how each ended. One import
# of torch for all the steps: the children are forked before faiss or torch start any thread.
ADD = """
import json, os, signal, sys
import numpy as np
from vreid.serve.fields import RowMeta
from vreid.serve.store import CRASH_VARIABLE, NewRow, open_store

def add(index):
    store = open_store(index, None, snapshot_every=2)
    vectors = np.random.default_rng(1).normal(size=(2, {dim})).astype(np.float32)
    store.add(vectors, [NewRow(RowMeta(camera="c9", track=str(i)), data=b"crop%d" % i) for i in range(2)])
    store.maybe_snapshot()
    store._settle()

ended = {{}}
for step, index in zip(sys.argv[1::2], sys.argv[2::2]):
    child = os.fork()
    if child == 0:
        os.environ[CRASH_VARIABLE] = step
        add(index)
        os._exit(0)
    status = os.waitpid(child, 0)[1]
    ended[step] = "SIGKILL" if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL else str(status)
print(json.dumps(ended))
""".format(dim=DIM)


def vectors(seed: int, count: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32)


def gallery_of_three(index) -> None:
    """Three acknowledged rows, and a snapshot holding them."""
    store = create_store(str(index), MODEL, IndexParams("flat"), None, snapshot_every=100)
    store.add(vectors(0, 3), [NewRow(RowMeta(camera="c1", track=str(i)), data=b"old%d" % i) for i in range(3)])
    store.close()


STEPS = {"crops-written": False, "rows-inserted": False, "committed": True, "snapshot-renamed": True}  # step: kept


def test_a_kill_at_each_step_of_an_add_keeps_all_of_it_or_none(tmp_path):
    pairs = []
    for step in STEPS:
        gallery_of_three(tmp_path / step / "g.faiss")
        pairs += [step, str(tmp_path / step / "g.faiss")]
    run = subprocess.run([sys.executable, "-c", ADD, *pairs], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.splitlines()[-1]) == {step: "SIGKILL" for step in STEPS}
    for step, kept in STEPS.items():
        check_after_kill(tmp_path / step / "g.faiss", step, kept)


def check_after_kill(index, step: str, kept: bool) -> None:
    store = open_store(str(index), None)
    try:
        assert store.ntotal == (5 if kept else 3), step
        assert store.conn.execute("SELECT COUNT(*) FROM rows").fetchone()[0] == store.ntotal, step
        assert store.replayed == (2 if step == "committed" else 0), step  # a renamed snapshot is recognised
        new, old = store.search(vectors(1, 2), [(1, Filter()), (5, Filter(cameras=("c1",)))])
        if kept:
            assert (new[0]["id"], new[0]["camera"]) == (3, "c9") and new[0]["distance"] == pytest.approx(0, abs=1e-5)
            assert open(store.image_path(4), "rb").read() == b"crop1"
        assert sorted(h["id"] for h in old) == [0, 1, 2], step
        assert store.image_path(store.ntotal) is None, step
    finally:
        store.close()
    reopened = open_store(str(index), None)  # the close above wrote a snapshot of it all
    assert (reopened.ntotal, reopened.replayed) == (5 if kept else 3, 0), step
    reopened.close()


def test_a_server_killed_during_an_add_restarts_with_every_acknowledged_crop(tmp_path, start_server, toy_model,
                                                                            crops, meta):
    index = tmp_path / "city.faiss"
    server = start_server(index, "--snapshot-every", 3, model=toy_model())
    acknowledged: dict[int, str] = {}
    for n in range(5):
        pair = crops[2 * n:2 * n + 2]
        response = server.add(pair, meta.metadata(pair, 2 * n))
        assert response.status_code == 201, response.text
        acknowledged.update(zip(response.json()["ids"], (p.name for p in pair)))
    in_flight = crops[10:12]
    thread = threading.Thread(target=lambda: _quietly(server.add, in_flight, meta.metadata(in_flight, 10)))
    thread.start()
    time.sleep(0.1)
    server.kill()
    thread.join()

    server = start_server(index)
    rows = server.health()["gallery"]["rows"]
    assert rows in (10, 12)  # the add cut short is all there or not at all
    assert server.request("GET", f"/v1/gallery/{rows - 1}/image").status_code == 200
    assert server.request("GET", f"/v1/gallery/{rows}/image").status_code == 404
    for row, name in acknowledged.items():
        first = server.hits(next(p for p in crops if p.name == name), k=1)[0]
        assert (first["id"], first["name"], first["fields"]) == (row, name, {"file": name})
        assert first["distance"] == pytest.approx(0, abs=1e-5)
    assert server.stop() == 0
    assert "stopped: " in server.lines[-1]


def _quietly(add, *args) -> None:
    try:
        add(*args)
    except Exception:  # the connection dies with the server
        pass


def test_two_servers_never_write_one_gallery(tmp_path):
    index = tmp_path / "g.faiss"
    gallery_of_three(index)
    first = open_store(str(index), None)
    try:
        with pytest.raises(UserError, match=rf"^{index} is served by another process \(pid {os.getpid()}\); stop it "
                                            "first$"):
            open_store(str(index), None)
    finally:
        first.close()
    open_store(str(index), None).close()  # free again once the first one closed
