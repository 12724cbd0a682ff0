"""A served gallery: a faiss index whose every row is a row of a SQLite database, one to one
across adds, restarts and kills.

Beside the index NAME.faiss (tools/build_index.py's, imported on the first start, or none: the
gallery starts empty) the service keeps, and alone writes:

    NAME.faiss.sqlite     the rows (id = faiss row, image path, camera, capture time, track, label,
                          free fields), the model's provenance, the index parameters, and the
                          vectors of the rows no snapshot holds yet; WAL mode
    NAME.faiss.snapshot   the faiss index as the service last saved it, replaced atomically
    NAME.faiss.crops/     the images added through the service, by id
    NAME.faiss.lock       held while a service has the gallery open

The database is the log and faiss is rebuilt from it. An add writes its crops, commits its rows
and their vectors in one transaction, and only then appends to faiss and answers; a kill before
the commit leaves nothing of the add (a crop file at most, overwritten by the next add), a kill
after it loses nothing, because opening the store appends to the snapshot the rows it lacks,
from their vectors. Every ``snapshot_every`` rows the index is saved in the background, and the
vectors it then holds are dropped, so a restart replays at most that many rows. The snapshot
the database expects is recorded before the file is renamed into place, so a kill between the
two is recognised, not mistaken for a corrupt file. Metadata stays on disk (filters are SQL on
indexed columns); memory holds the faiss index alone.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import mmap
import os
import signal
import sqlite3
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import faiss
import numpy as np

from vreid.deploy.gallery import SavedGallery
from vreid.deploy.gallery_index import load_index
from vreid.deploy.index_params import (IndexParams, apply_search_params, fill, new_index, params_from_record,
                                      prepared, record_of, with_search_overrides)
from vreid.deploy.provenance import Provenance, file_sha256
from vreid.errors import UserError
from vreid.outputs import atomic_write, ensure_folder
from vreid.projects import BatchKey
from vreid.serve.errors import RequestError
from vreid.serve.fields import Filter, RowMeta, iso_time

SCHEMA_VERSION = "1"
CRASH_VARIABLE = "VREID_SERVE_CRASH_AT"  # tests: kill -9 at a named step (crash_point)
EXACT_LIMIT = 16384  # a filter matching at most this many rows ranks exactly those rows
MAX_FETCH = 1 << 18  # candidates a broader filter draws from faiss, at most, before SQL keeps its rows
CROPS_PER_FOLDER = 10000
REPLAY_CHUNK = 4096

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE rows (
    id INTEGER PRIMARY KEY,  -- its faiss row
    path TEXT NOT NULL,      -- the image: absolute, or relative to the database's folder
    name TEXT,               -- the image's name as its client gave it
    camera TEXT,
    time REAL,               -- capture time, seconds since the epoch (UTC)
    track TEXT,
    label INTEGER,           -- the per-image key's value the model read (a domain)
    fields TEXT,             -- free fields, a JSON object
    added REAL NOT NULL,
    vector BLOB              -- float32 features, until a snapshot holds the row
);
CREATE INDEX rows_camera_time ON rows (camera, time);
CREATE INDEX rows_time ON rows (time);
CREATE TABLE cameras (name TEXT PRIMARY KEY, rows INTEGER NOT NULL) WITHOUT ROWID;
"""


def crash_point(name: str) -> None:
    """A kill -9 of this process at step ``name`` of an add or a snapshot, when the tests ask for
    it (VREID_SERVE_CRASH_AT): the steps where a kill is most likely to leave two files apart."""
    if os.environ.get(CRASH_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class StoreFiles:
    index: str  # NAME.faiss: the gallery's name, and tools/build_index.py's index if there is one

    @property
    def db(self) -> str:
        return self.index + ".sqlite"

    @property
    def snapshot(self) -> str:
        return self.index + ".snapshot"

    @property
    def crops(self) -> str:
        return self.index + ".crops"

    @property
    def lock(self) -> str:
        return self.index + ".lock"

    @property
    def folder(self) -> str:
        return os.path.dirname(os.path.abspath(self.index))

    def resolve(self, path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(self.folder, path)


@dataclass(frozen=True)
class NewRow:
    """A row to add: its metadata, the label the model read, and the crop's bytes to store (or
    the path of an image already on the server's disk)."""

    meta: RowMeta
    label: int | None = None
    name: str | None = None
    data: bytes | None = None
    extension: str = ".jpg"
    path: str | None = None


def connect(path: str, readonly: bool = False) -> sqlite3.Connection:
    """Autocommit mode: transactions are explicit (``transaction``), so a crash point can sit
    between a transaction's writes and its COMMIT."""
    target = Path(os.path.abspath(path)).as_uri() + "?mode=ro" if readonly else path
    conn = sqlite3.connect(target, uri=readonly, timeout=30, isolation_level=None, check_same_thread=False)
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        conn.execute("PRAGMA synchronous=FULL")  # an acknowledged add survives a power cut too
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def get_meta(conn: sqlite3.Connection, key: str):
    found = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(found[0]) if found else None


def set_meta(conn: sqlite3.Connection, key: str, value) -> None:
    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))


def fsync_folder(folder: str) -> None:
    """A rename is durable once its folder is synced."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Recorded(SavedGallery):
    """The gallery's model as a SavedGallery knows one, for the query embedder's weights check."""

    MISSING_WEIGHTS = ("MODEL.WEIGHTS {weights}, the model of {path}, does not exist any more; pass the weights "
                       "that made the gallery")
    OTHER_WEIGHTS = ("MODEL.WEIGHTS {weights} (SHA-256 {found}) is not the model that embedded {path} "
                     "({recorded}): its queries are not comparable with the gallery; serve it with the weights "
                     "that made it, or start a new gallery (another --index) for these weights")
    REFILL = "add crops with POST /v1/gallery"

    def __init__(self, path: str, provenance: Provenance):
        self.path, self.provenance = path, provenance


class GalleryStore:
    """The faiss index and the rows of one gallery. One thread (the service's engine) adds and
    searches; any thread may look up an image's path."""

    def __init__(self, files: StoreFiles, key: BatchKey | None, overrides: dict[str, int] | None = None,
                 snapshot_every: int = 10000):
        self.files, self.key, self.snapshot_every = files, key, snapshot_every
        self._lock = _hold(files)
        self.conn = connect(files.db)
        try:
            self._open(overrides or {})
        except BaseException:
            self.conn.close()
            os.close(self._lock)
            raise
        self.snapshot_rows = get_meta(self.conn, "snapshot")["rows"]
        self._snapshot_started = self.snapshot_rows
        self.cameras = frozenset(n for (n,) in self.conn.execute("SELECT name FROM cameras"))
        self._local, self._readers = threading.local(), []
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="snapshot")
        self._pending: Future | None = None

    # --- opening ---------------------------------------------------------------------------------------------------

    def _open(self, overrides: dict[str, int]) -> None:
        self._check_meta()
        self.provenance = Provenance(**get_meta(self.conn, "provenance"))
        self.params = with_search_overrides(params_from_record(get_meta(self.conn, "params")), overrides,
                                            self.files.index)
        self.index = self._load_snapshot()
        self.replayed = self._replay()
        apply_search_params(self.index, self.params)

    def _check_meta(self) -> None:
        version = get_meta(self.conn, "schema")
        if version != SCHEMA_VERSION:
            raise UserError(f"{self.files.db} is of schema {version}, this service reads {SCHEMA_VERSION}")
        stored, ours = get_meta(self.conn, "label_key"), self.key.name if self.key is not None else ""
        if stored != ours:
            raise UserError(f"{self.files.db} labels its rows by {stored or 'no key'!r}, the installed projects by "
                            f"{ours or 'no key'!r}: serve it where the projects that made it are installed")

    def _load_snapshot(self) -> faiss.Index:
        """The snapshot the database expects; one written but not yet confirmed when a kill fell
        between its rename and the confirmation."""
        candidate = get_meta(self.conn, "snapshot_next")
        if candidate is not None:
            index = self._read_if(candidate)
            if index is not None:
                promote(self.conn, candidate)
                return index
            self.conn.execute("DELETE FROM meta WHERE key = 'snapshot_next'")
        snapshot = get_meta(self.conn, "snapshot")
        if snapshot["file"] is None:
            return new_index(self.params, self.provenance.dim, self.provenance.metric)
        index = self._read_if(snapshot)
        path = os.path.join(self.files.folder, snapshot["file"])
        if index is None:
            raise UserError(f"{path} is not the faiss index {self.files.db} recorded ({snapshot['bytes']} bytes, "
                            f"SHA-256 {snapshot['sha256'][:12]}): truncated, corrupt or replaced; restore it, or "
                            f"delete {self.files.db} to start the gallery afresh")
        if index.ntotal != snapshot["rows"] or index.d != self.provenance.dim:
            raise UserError(f"{path} holds {index.ntotal} rows of dimension {index.d}, {self.files.db} recorded "
                            f"{snapshot['rows']} of dimension {self.provenance.dim}")
        return index

    def _read_if(self, record: dict) -> faiss.Index | None:
        """The faiss file of ``record`` read once (mapped, hashed, parsed), or None unless it is
        exactly the file recorded."""
        path = os.path.join(self.files.folder, record["file"])
        if not os.path.isfile(path) or os.path.getsize(path) != record["bytes"] or not record["bytes"]:
            return None
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if hashlib.sha256(data).hexdigest() != record["sha256"]:
                return None
            view = np.frombuffer(data, dtype=np.uint8)
            try:
                return faiss.deserialize_index(view)
            except RuntimeError as e:
                raise UserError(f"cannot read the faiss index {path}: {str(e).strip().splitlines()[-1]}") from None
            finally:
                del view

    def _replay(self) -> int:
        """Append to the snapshot the committed rows it lacks, from their vectors; how many."""
        count, top = self.conn.execute("SELECT COUNT(*), MAX(id) FROM rows").fetchone()
        if count != (top + 1 if top is not None else 0):
            raise UserError(f"{self.files.db}: its {count} rows are not numbered 0 to {count - 1} (edited by hand?); "
                            "each row must be its faiss row")
        start = self.index.ntotal
        if start > count:
            raise UserError(f"the faiss snapshot holds {start} rows, {self.files.db} {count}: they are not one "
                            "gallery")
        cursor = self.conn.execute("SELECT id, vector FROM rows WHERE id >= ? ORDER BY id", (start,))
        while chunk := cursor.fetchmany(REPLAY_CHUNK):
            missing = next((row for row, vector in chunk if vector is None), None)
            if missing is not None:
                raise UserError(f"{self.files.db}: row {missing} has no vector and no snapshot holds it; restore "
                                f"the snapshot {self.files.snapshot}")
            vectors = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in chunk])
            fill(self.index, vectors, self.params, self.provenance.metric)
        return count - start

    def query_embedder(self, config_file: str | None, opts: Sequence[str], key: BatchKey | None):
        """The model that made the gallery (its stored config, or ``config_file``, with ``opts``);
        other weights are refused as tools/search.py refuses them."""
        return _Recorded(self.files.db, self.provenance).query_embedder(config_file, opts, key)

    # --- adding ----------------------------------------------------------------------------------------------------

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    def add(self, vectors: np.ndarray, rows: Sequence[NewRow]) -> list[int]:
        """Store the crops, commit the rows with their vectors, then append them to faiss: their
        ids, which are their faiss rows."""
        ids = list(range(self.ntotal, self.ntotal + len(rows)))
        paths = self._write_crops(ids, rows)
        crash_point("crops-written")
        now = time.time()
        try:
            with transaction(self.conn):
                self.conn.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                      [_row_values(i, p, r, now, v) for i, p, r, v in zip(ids, paths, rows, vectors)])
                self.conn.executemany("INSERT INTO cameras VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET rows = "
                                      "rows + 1", [(r.meta.camera,) for r in rows if r.meta.camera is not None])
                crash_point("rows-inserted")
        except sqlite3.Error as e:
            raise RequestError(503, f"cannot add to {os.path.basename(self.files.db)}: {e}; is the disk full?") from None
        crash_point("committed")
        fill(self.index, vectors, self.params, self.provenance.metric)
        self.cameras = self.cameras | {r.meta.camera for r in rows if r.meta.camera is not None}
        return ids

    def _write_crops(self, ids: Sequence[int], rows: Sequence[NewRow]) -> list[str]:
        """Each crop in a file named by its id (written whole or not at all), before its row is
        committed: a row never names a file that is not there."""
        paths, folders = [], set()
        try:
            for row_id, row in zip(ids, rows):
                if row.data is None:
                    paths.append(row.path)
                    continue
                relative = os.path.join(os.path.basename(self.files.crops), f"{row_id // CROPS_PER_FOLDER:05d}",
                                        f"{row_id}{row.extension}")
                path = self.files.resolve(relative)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                atomic_write(path, lambda f, data=row.data: f.write(data))
                folders.add(os.path.dirname(path))
                paths.append(relative)
            for folder in folders:
                fsync_folder(folder)
        except OSError as e:
            raise RequestError(503, f"cannot store the crops: {e.strerror or e}; is the disk full?") from None
        return paths

    # --- searching -------------------------------------------------------------------------------------------------

    def check_filter(self, where: Filter) -> None:
        unknown = [c for c in where.cameras if c not in self.cameras]
        if unknown:
            known = sorted(self.cameras)
            listed = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
            raise RequestError(400, f"unknown camera {unknown[0]!r}: the gallery's cameras are {listed or 'none'}")

    def search(self, queries: np.ndarray, wanted: Sequence[tuple[int, Filter]]) -> list[list[dict]]:
        """Each query's ``k`` nearest rows that pass its filter, nearest first, with their metadata.
        Unfiltered queries are searched together in one faiss call."""
        found: list[list[tuple[int, float]]] = [[] for _ in wanted]
        plain = [i for i, (_, where) in enumerate(wanted) if where.empty]
        if plain and self.ntotal:
            k = max(wanted[i][0] for i in plain)
            for i, hits in zip(plain, self._search(queries[plain], k)):
                found[i] = hits[:wanted[i][0]]
        for i, (k, where) in enumerate(wanted):
            if not where.empty and self.ntotal:
                found[i] = self._filtered(queries[i:i + 1], k, where)
        records = self._records({row for hits in found for row, _ in hits})
        return [[{**records[row], "rank": rank, "distance": distance} for rank, (row, distance) in enumerate(hits, 1)]
                for hits in found]

    def _search(self, queries: np.ndarray, k: int, params=None) -> list[list[tuple[int, float]]]:
        scores, rows = self.index.search(prepared(queries, self.provenance.metric), min(k, self.ntotal),
                                         params=params)
        return [[(row, self._distance(s)) for row, s in zip(r, d) if row >= 0]  # -1: fewer found than asked
                for r, d in zip(rows.tolist(), scores.tolist())]

    def _distance(self, score: float) -> float:
        """The gallery metric's distance from faiss's score (inner product of normalised
        vectors, or squared L2), as tools/search.py prints it."""
        return 1.0 - score if self.provenance.metric == "cosine" else float(np.sqrt(max(score, 0.0)))

    def _filtered(self, query: np.ndarray, k: int, where: Filter) -> list[tuple[int, float]]:
        """A filter's rows come from SQL. Few (a camera, an hour): rank exactly those. Many: draw
        ever more faiss candidates until SQL keeps k of them."""
        clause, args = where.sql()
        matching = [r for (r,) in self.conn.execute(f"SELECT id FROM rows WHERE {clause} LIMIT ?",
                                                    [*args, EXACT_LIMIT + 1])]
        if not matching:
            return []
        if len(matching) <= EXACT_LIMIT:
            return self._among(query, k, np.array(matching, dtype=np.int64))
        fetch = min(self.ntotal, max(64, 16 * k))
        while True:
            hits = self._search(query, fetch)[0]
            allowed = {r for (r,) in self.conn.execute(
                f"SELECT id FROM rows WHERE id IN (SELECT value FROM json_each(?)) AND {clause}",
                [json.dumps([r for r, _ in hits]), *args])}
            kept = [h for h in hits if h[0] in allowed][:k]
            if len(kept) == k or len(hits) < fetch or fetch >= min(self.ntotal, MAX_FETCH):
                return kept
            fetch = min(self.ntotal, MAX_FETCH, fetch * 8)

    def _among(self, query: np.ndarray, k: int, rows: np.ndarray) -> list[tuple[int, float]]:
        """The k nearest of ``rows``: exact where faiss keeps the vectors (flat, HNSW); for IVF-PQ
        every list is visited, only ``rows`` scored."""
        if self.params.kind == "ivfpq":
            lists = faiss.extract_index_ivf(self.index).nlist
            params = faiss.SearchParametersIVF(sel=faiss.IDSelectorBatch(rows), nprobe=lists)
            return self._search(query, k, params)[0]
        vectors = self.index.reconstruct_batch(rows)
        q = prepared(query, self.provenance.metric)[0]
        if self.provenance.metric == "cosine":
            scores = vectors @ q
            order = np.argsort(-scores, kind="stable")[:k]
        else:
            scores = ((vectors - q) ** 2).sum(axis=1)
            order = np.argsort(scores, kind="stable")[:k]
        return [(int(rows[o]), self._distance(float(scores[o]))) for o in order]

    def _records(self, rows: Iterable[int]) -> dict[int, dict]:
        found = self.conn.execute("SELECT id, name, camera, time, track, label, fields FROM rows WHERE id IN "
                                  "(SELECT value FROM json_each(?))", [json.dumps(sorted(rows))])
        return {row[0]: self._record(*row) for row in found}

    def _record(self, row: int, name, camera, seconds, track, label, fields) -> dict:
        record = {"id": row, "name": name, "camera": camera, "time": iso_time(seconds), "track": track}
        if self.key is not None:
            record[self.key.option] = self.key.label(label) if label is not None else None
        return {**record, "fields": json.loads(fields) if fields else {}}

    # --- any thread ------------------------------------------------------------------------------------------------

    def image_path(self, row: int) -> str | None:
        """The image file of row ``row``, None for no such row; a thread's own read-only connection."""
        reader = getattr(self._local, "conn", None)
        if reader is None:
            reader = self._local.conn = connect(self.files.db, readonly=True)
            self._readers.append(reader)
        found = reader.execute("SELECT path FROM rows WHERE id = ?", (row,)).fetchone()
        return self.files.resolve(found[0]) if found else None

    def describe(self) -> dict:
        return {"rows": self.ntotal, "snapshot_rows": self.snapshot_rows, "kind": self.params.kind,
                "params": self.params.used(), "cameras": len(self.cameras)}

    # --- snapshots -------------------------------------------------------------------------------------------------

    def maybe_snapshot(self, force: bool = False) -> None:
        """Save the index in the background once ``snapshot_every`` rows have come since the last
        (``force``: any, and wait for it). The copy is taken here, in the adding thread, so the
        file is exactly the rows counted."""
        due = self.ntotal - self._snapshot_started
        if due <= 0 or (due < self.snapshot_every and not force):
            return
        if self._pending is not None and not self._pending.done() and not force:
            return
        self._settle()
        data, rows = faiss.serialize_index(self.index), self.ntotal
        self._snapshot_started = rows
        self._pending = self._writer.submit(self._write_snapshot, data, rows)
        if force:
            self._settle()

    def _settle(self) -> None:
        """Wait for the snapshot being written; a failed one is said and retried next time (its
        rows keep their vectors in the database, so nothing is lost)."""
        if self._pending is None:
            return
        try:
            self._pending.result()
        except (OSError, sqlite3.Error, UserError) as e:
            print(f"warning: the gallery snapshot failed ({e}); its rows stay in {self.files.db}", file=sys.stderr)
            self._snapshot_started = self.snapshot_rows
        self._pending = None

    def _write_snapshot(self, data: np.ndarray, rows: int) -> None:
        record = {"file": os.path.basename(self.files.snapshot), "rows": rows, "bytes": int(data.size),
                  "sha256": hashlib.sha256(data).hexdigest()}
        conn = connect(self.files.db)
        try:
            set_meta(conn, "snapshot_next", record)
            atomic_write(self.files.snapshot, lambda f: f.write(memoryview(data)))
            fsync_folder(self.files.folder)
            crash_point("snapshot-renamed")
            promote(conn, record)
        finally:
            conn.close()
        self.snapshot_rows = rows

    def close(self) -> None:
        """A last snapshot, so the next start replays nothing; then the files are let go."""
        self.maybe_snapshot(force=True)
        self._settle()  # one started before and still writing
        self._writer.shutdown()
        for conn in (*self._readers, self.conn):
            conn.close()
        os.close(self._lock)


def promote(conn: sqlite3.Connection, record: dict) -> None:
    """``record`` is the snapshot now: the vectors of the rows it holds are dropped."""
    before = get_meta(conn, "snapshot")["rows"]
    with transaction(conn):
        set_meta(conn, "snapshot", record)
        conn.execute("DELETE FROM meta WHERE key = 'snapshot_next'")
        conn.execute("UPDATE rows SET vector = NULL WHERE id >= ? AND id < ?", (before, record["rows"]))


def _row_values(row: int, path: str, new: NewRow, now: float, vector: np.ndarray) -> tuple:
    meta = new.meta
    fields = json.dumps(meta.fields) if meta.fields else None
    return (row, path, new.name, meta.camera, meta.time, meta.track, new.label, fields, now,
            np.ascontiguousarray(vector, dtype=np.float32).tobytes())


def _hold(files: StoreFiles) -> int:
    """An exclusive lock on the gallery: two services appending to one index would each number
    new rows from the same end. The kernel drops it with the process, a kill -9 included."""
    ensure_folder(files.folder, "--index")
    fd = os.open(files.lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise UserError(f"{files.index} is served by another process ({holder}); stop it first") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
    return fd


# --- making a store ------------------------------------------------------------------------------------------------

def open_store(index: str, key: BatchKey | None, overrides: dict[str, int] | None = None,
               snapshot_every: int = 10000) -> GalleryStore | None:
    """The gallery of ``index``: its database, or tools/build_index.py's index imported into a
    new one; None when neither exists."""
    files = StoreFiles(index)
    if not os.path.exists(files.db):
        if not os.path.exists(index):
            return None
        import_index(files, key)
    return GalleryStore(files, key, overrides, snapshot_every)


def create_store(index: str, provenance: Provenance, params: IndexParams, key: BatchKey | None,
                 snapshot_every: int = 10000) -> GalleryStore:
    """An empty gallery for features of ``provenance``'s model."""
    if params.kind == "ivfpq":
        raise UserError("an empty IVF-PQ index has nothing to train its lists on: build one from features with "
                        "tools/build_index.py --kind ivfpq, then serve it; or start with --kind flat or hnsw")
    params.check(provenance.dim, 0, "the new gallery")
    _new_db(StoreFiles(index), provenance, params, key, {"file": None, "rows": 0})
    return GalleryStore(StoreFiles(index), key, {}, snapshot_every)


def import_index(files: StoreFiles, key: BatchKey | None) -> None:
    """The rows of a tools/build_index.py index (checked as tools/search.py checks it) into a new
    database; the index file itself becomes the first snapshot and is never written."""
    built = load_index(files.index, key)
    snapshot = {"file": os.path.basename(files.index), "rows": built.index.ntotal,
                "bytes": os.path.getsize(files.index), "sha256": file_sha256(files.index)}
    now = time.time()
    rows = ((i, os.path.abspath(p), os.path.basename(p), None, None, None, label, None, now, None)
            for i, (p, label) in enumerate(zip(built.rows.paths, built.rows.labels)))
    _new_db(files, built.provenance, built.params, key, snapshot, rows)


def _new_db(files: StoreFiles, provenance: Provenance, params: IndexParams, key: BatchKey | None, snapshot: dict,
            rows: Iterable[tuple] = ()) -> None:
    """The database written under a temporary name and renamed when whole: a kill during an
    import leaves no half-imported gallery."""
    ensure_folder(files.folder, "--index")
    tmp = files.db + ".importing"
    if os.path.exists(tmp):
        os.remove(tmp)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.executescript(SCHEMA)
        with transaction(conn):
            for name, value in (("schema", SCHEMA_VERSION), ("provenance", asdict(provenance)),
                                ("params", record_of(params)), ("label_key", key.name if key is not None else ""),
                                ("snapshot", snapshot)):
                set_meta(conn, name, value)
            conn.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    finally:
        conn.close()
    os.replace(tmp, files.db)
    fsync_folder(files.folder)
