"""The search service under load: searches/s and latency of tools/serve.py at several numbers of
concurrent clients, micro-batched against one at a time, on one gallery.

The gallery is made once per (model, rows, kind) and kept in --out: synthetic clustered features
of the model's dimension, with cameras and capture times, added through the service's own store
(so its snapshot and database are what a served gallery holds), every row pointing at one real
crop file. The server runs as its users run it, a subprocess on a free localhost port, once per
batching mode; each client is a thread with its own keep-alive connection that uploads the query
crop and waits for the answer, ``searches`` times. The server's resident memory is read after
each level, so a load that leaks shows as growth between levels.
"""
from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from vreid.config import load_config, load_model_config
from vreid.deploy.embedder import Embedder
from vreid.deploy.index_params import IndexParams
from vreid.errors import UserError
from vreid.modeling import build_model
from vreid.serve.fields import RowMeta
from vreid.serve.store import NewRow, StoreFiles, create_store, open_store

from .model import with_classes
from .report import Column, figure

READY = re.compile(r"^serving .* at (http://[^\s/]+)/")
BOUNDARY = "vreid-benchmark-boundary"
BASE_TIME = 1714550400  # 2024-05-01T08:00:00Z
CAMERAS = 20
CHUNK = 8192
MODES = {"batched": None, "one at a time": (1, 0.0)}  # batched: the command line's --max-batch and wait


def served_embedder(config_file: str, opts: Sequence[str], folder: Path, seed: int = 0) -> Embedder:
    """The config's model with its MODEL.WEIGHTS, or randomly initialised (saved in ``folder``,
    seeded: the same weights, so the same gallery, on every run)."""
    cfg = load_config(config_file, opts)
    weights = cfg.MODEL.WEIGHTS
    if not weights:
        weights = str(folder / f"random_{seed}.pth")
        if not os.path.isfile(weights):
            torch.manual_seed(seed)
            torch.save({"model": build_model(with_classes(cfg)).state_dict()}, weights)
    return Embedder(load_model_config(config_file, [*opts, "MODEL.WEIGHTS", weights]))


def query_crop(folder: Path, seed: int = 0) -> Path:
    """A 256x256 JPEG: what every search uploads and every gallery row points at."""
    path = folder / "crop.jpg"
    if not path.exists():
        pixels = np.random.default_rng(seed).integers(0, 256, (256, 256, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, quality=90)
    return path


def gallery(embedder: Embedder, folder: Path, rows: int, kind: str, crop: Path, seed: int = 0) -> str:
    """The gallery's index path: reused when it holds ``rows`` rows of this model, else made anew."""
    index = str(folder / f"gallery_{kind}_{rows}.faiss")
    files = StoreFiles(index)
    if os.path.exists(files.db):
        store = open_store(index, embedder.key)
        fits = store.ntotal == rows and store.provenance.weights_sha256 == embedder.weights_sha256
        store.close()
        if fits:
            return index
        for path in (files.db, files.db + "-wal", files.db + "-shm", files.snapshot):
            if os.path.exists(path):
                os.remove(path)
    store = create_store(index, embedder.provenance, IndexParams(kind), embedder.key, snapshot_every=rows + 1)
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(rows // 50, 1), embedder.dim)).astype(np.float32)
    for start in range(0, rows, CHUNK):
        count = min(CHUNK, rows - start)
        vectors = centres[rng.integers(0, len(centres), count)] + 0.3 * rng.normal(size=(count, embedder.dim))
        store.add(vectors.astype(np.float32), [_row(start + i, crop) for i in range(count)])
    store.close()  # the snapshot of all rows
    return index


def _row(row: int, crop: Path) -> NewRow:
    meta = RowMeta(camera=f"c{row % CAMERAS + 1:02d}", time=BASE_TIME + row, track=str(row // 5))
    return NewRow(meta, path=str(crop.resolve()), name=crop.name)


def multipart(crop: Path, k: int) -> bytes:
    """The body of one search: the crop and k, encoded once for every request."""
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="k"\r\n\r\n{k}\r\n'.encode(),
             f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="{crop.name}"\r\n'
             "Content-Type: image/jpeg\r\n\r\n".encode(), crop.read_bytes(), f"\r\n--{BOUNDARY}--\r\n".encode()]
    return b"".join(parts)


class Server:
    """tools/serve.py on ``index`` as a subprocess, ready when it prints its address."""

    def __init__(self, index: str, args: Sequence[str], timeout_s: float = 300):
        tool = Path(__file__).resolve().parents[2] / "tools" / "serve.py"
        self.proc = subprocess.Popen([sys.executable, str(tool), "--index", index, "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        found: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(found,), daemon=True).start()
        try:
            self.host = found.get(timeout=timeout_s)
        except queue.Empty:
            self.host = None
        if self.host is None:
            self.proc.kill()
            raise UserError(f"tools/serve.py did not start: {self.proc.stderr.read().strip()[-400:]}")

    def _read(self, found: queue.Queue) -> None:
        for line in self.proc.stdout:
            match = READY.match(line)
            if match:
                found.put(match[1].removeprefix("http://"))
        found.put(None)

    def health(self) -> dict:
        conn = http.client.HTTPConnection(self.host, timeout=60)
        conn.request("GET", "/v1/health")
        return json.loads(conn.getresponse().read())

    def rss_mib(self) -> float | None:
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        return int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def drive(host: str, body: bytes, clients: int, searches: int) -> dict:
    """``clients`` threads, each ``searches`` searches in a row on its own connection, started together."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, timeout=300)
        start.wait()
        for _ in range(searches):
            began = time.perf_counter()
            try:
                conn.request("POST", "/v1/search", body, headers)
                response = conn.getresponse()
                response.read()
                errors[i] += response.status != 200
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn = http.client.HTTPConnection(host, timeout=300)
            latencies[i].append(time.perf_counter() - began)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    every = np.array([t for ts in latencies for t in ts]) * 1000
    return {"clients": clients, "searches": int(every.size), "errors": int(sum(errors)),
            "searches_per_s": every.size / wall, "p50_ms": float(np.percentile(every, 50)),
            "p99_ms": float(np.percentile(every, 99)), "wall_s": wall}


def measure_mode(index: str, mode: str, args: Sequence[str], body: bytes, levels: Sequence[int], searches: int,
                 warmup: int = 3) -> list[dict]:
    """One server in ``mode``: a warm-up, then each level of clients, with the batches the server
    formed and its memory: after the level, and its growth over the level's second half (a
    larger batch takes more memory once; a leak keeps growing)."""
    server = Server(index, args)
    try:
        drive(server.host, body, 1, warmup)
        rows = []
        for clients in levels:
            before = server.health()["batching"]
            with RssSampler(server) as memory:
                measured = drive(server.host, body, clients, searches)
            after = server.health()["batching"]
            batches = max(after["batches"] - before["batches"], 1)
            rows.append({"mode": mode, **measured, "mean_batch": (after["searches"] - before["searches"]) / batches,
                         "server_rss_mib": server.rss_mib(), "rss_growth_2nd_half_mib": memory.second_half_growth()})
            print(f"{mode}, {clients} clients: {measured['searches_per_s']:.1f} searches/s", file=sys.stderr,
                  flush=True)
    finally:
        server.stop()
    return rows


class RssSampler:
    """The server's resident memory every ``period_s`` while a level runs."""

    def __init__(self, server: Server, period_s: float = 0.1):
        self.server, self.period_s, self.samples = server, period_s, []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            rss = self.server.rss_mib()
            if rss is not None:
                self.samples.append(rss)
            if self._done.wait(self.period_s):
                return

    def second_half_growth(self) -> float | None:
        """The last sample less the one at mid-level."""
        if len(self.samples) < 2:
            return None
        return self.samples[-1] - self.samples[len(self.samples) // 2]


def with_ratios(rows: list[dict]) -> list[dict]:
    """Each batched row with its searches/s over one-at-a-time's at the same number of clients."""
    single = {r["clients"]: r["searches_per_s"] for r in rows if r["mode"] == "one at a time"}
    return [{**r, "speedup": r["searches_per_s"] / single[r["clients"]]} if r["mode"] == "batched"
            and r["clients"] in single else r for r in rows]


def serve_columns() -> list[Column]:
    return [("mode", lambda r: r["mode"]), ("clients", figure("clients", "d")),
            ("searches", figure("searches", "d")), ("errors", figure("errors", "d")),
            ("searches/s", figure("searches_per_s", ".1f")), ("p50 ms", figure("p50_ms", ".1f")),
            ("p99 ms", figure("p99_ms", ".1f")), ("mean batch", figure("mean_batch", ".1f")),
            ("server RSS MiB", figure("server_rss_mib", ".0f")),
            ("RSS growth, 2nd half MiB", figure("rss_growth_2nd_half_mib", "+.0f")),
            ("vs one at a time", figure("speedup", ".2f"))]
