"""The one thread that embeds, searches and adds, fed by a queue: micro-batching with a bounded wait.

A CPU embeds 32 crops in one forward pass several times faster than in 32 passes, and faiss
scans its lists once for a batch of queries; so the searches that arrive together are embedded
and searched as one batch. When the engine takes a search from the queue it waits at most
``wait_s`` for more (and takes at once whatever already waits), up to ``max_batch``; under load
the queue fills while a batch runs, so batches grow with the load and the wait is rarely spent.
Adds run one at a time in arrival order, between batches: the engine is the only writer of the
faiss index and of the database, so no lock is needed and a search never sees a half-added crop.
The queue is bounded: a full queue is a 503 to retry, not unbounded memory and latency.
"""
from __future__ import annotations

import asyncio
import queue
import sys
import threading
import time
import traceback
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Sequence

from PIL import Image

from vreid.deploy.embedder import Embedder
from vreid.errors import UserError
from vreid.serve.errors import RequestError
from vreid.serve.fields import Filter, RowMeta
from vreid.serve.store import GalleryStore, NewRow
from vreid.serve.uploads import Upload


@dataclass(frozen=True)
class Batching:
    max_batch: int = 32  # searches embedded and searched together, at most
    wait_s: float = 0.005  # how long a search waits for others to join its batch, at most
    max_queue: int = 256  # requests waiting, at most; more are refused with 503


@dataclass
class _Search:
    image: Image.Image
    label: str | None
    k: int
    where: Filter
    future: Future = field(default_factory=Future)


@dataclass
class _Add:
    uploads: Sequence[Upload]
    metas: Sequence[RowMeta]
    future: Future = field(default_factory=Future)


_STOP = object()


class Engine:
    """``await search(...)`` and ``await add(...)`` from the event loop; the work runs here."""

    def __init__(self, store: GalleryStore, embedder: Embedder, batching: Batching = Batching()):
        self.store, self.embedder, self.batching = store, embedder, batching
        self.queue: queue.Queue = queue.Queue(batching.max_queue)
        self._held = None  # a job taken while gathering a batch that is not a search
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)
        self.batches = self.searches = 0

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Finish what is queued, then a last snapshot (GalleryStore.close)."""
        if self._thread.is_alive():
            self.queue.put(_STOP)
            self._thread.join()
        self.store.close()

    async def search(self, image: Image.Image, label: str | None, k: int, where: Filter) -> dict:
        return await self._submit(_Search(image, label, k, where))

    async def add(self, uploads: Sequence[Upload], metas: Sequence[RowMeta]) -> list[int]:
        return await self._submit(_Add(uploads, metas))

    async def _submit(self, job) -> object:
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            raise RequestError(503, f"the server is busy ({self.batching.max_queue} requests waiting); retry "
                                    "shortly") from None
        return await asyncio.wrap_future(job.future)

    def stats(self) -> dict:
        return {"max_batch": self.batching.max_batch, "wait_ms": self.batching.wait_s * 1000,
                "batches": self.batches, "searches": self.searches, "queued": self.queue.qsize()}

    # --- the engine thread -----------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            job, self._held = self._held or self.queue.get(), None
            if job is _STOP:
                return
            if isinstance(job, _Add):
                _settle(job.future, self._add, job)
            else:
                self._search(self._gather(job))

    def _gather(self, first: _Search) -> list[_Search]:
        """``first`` and the searches that join it within the bounded wait."""
        batch, deadline = [first], time.monotonic() + self.batching.wait_s
        while len(batch) < self.batching.max_batch:
            left = deadline - time.monotonic()
            try:
                job = self.queue.get(block=left > 0, timeout=left if left > 0 else None)
            except queue.Empty:
                break
            if not isinstance(job, _Search):
                self._held = job
                break
            batch.append(job)
        return batch

    def _search(self, batch: list[_Search]) -> None:
        """One embedding call and one search call for the batch; a request whose filter names an
        unknown camera fails alone."""
        valid = []
        for job in batch:
            try:
                self.store.check_filter(job.where)
                valid.append(job)
            except RequestError as e:
                job.future.set_exception(e)
        if not valid:
            return
        try:
            features, labels = self.embedder.embed_with_labels([j.image for j in valid], [j.label for j in valid])
            found = self.store.search(features, [(j.k, j.where) for j in valid])
        except BaseException as e:  # noqa: BLE001 -- every waiting client gets the failure, the thread lives on
            _report(e)
            for job in valid:
                job.future.set_exception(e)
            return
        self.batches, self.searches = self.batches + 1, self.searches + len(valid)
        key = self.embedder.key
        for job, hits, label in zip(valid, found, labels):
            read = key.label(label) if key is not None and label is not None else None
            job.future.set_result({"hits": hits, "label": read})

    def _add(self, job: _Add) -> list[int]:
        labels = [meta.label for meta in job.metas]
        features, read = self.embedder.embed_with_labels([u.image for u in job.uploads], labels)
        rows = [NewRow(meta, label, upload.name, upload.data, upload.extension)
                for upload, meta, label in zip(job.uploads, job.metas, read)]
        ids = self.store.add(features, rows)
        self.store.maybe_snapshot()
        return ids


def _settle(future: Future, work, job) -> None:
    try:
        future.set_result(work(job))
    except BaseException as e:  # noqa: BLE001 -- handed to the request that waits for it
        _report(e)
        future.set_exception(e)


def _report(error: BaseException) -> None:
    """What is not the client's fault goes to the server's log with its traceback."""
    if not isinstance(error, UserError):
        traceback.print_exception(error, file=sys.stderr)
