"""Running the service: the gallery opened (or imported, or created), its model checked against
it, the engine started, uvicorn on a socket bound here.

The socket is bound before uvicorn starts, so a port in use is one line before the model is
loaded, and ``--port 0`` takes a free port and prints it (the tests' way to start a server
without guessing a port). One process serves one gallery: the engine is its only writer.
"""
from __future__ import annotations

import ipaddress
import socket
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import uvicorn

from vreid.deploy.embedder import Embedder
from vreid.deploy.index_params import IndexParams
from vreid.config import load_model_config
from vreid.errors import UserError
from vreid.projects import BatchKey
from vreid.serve.app import Limits, build_app
from vreid.serve.engine import Batching, Engine
from vreid.serve.store import GalleryStore, create_store, open_store


@dataclass(frozen=True)
class ModelChoice:
    config_file: str | None  # None: the config the gallery stores
    opts: Sequence[str] = ()


def open_gallery(index: str, model: ModelChoice, key: BatchKey | None, new: IndexParams,
                 overrides: dict[str, int], snapshot_every: int) -> tuple[GalleryStore, Embedder]:
    """The gallery of ``index`` and the embedder of its model, the weights checked against the
    ones it records; a new empty gallery of kind ``new`` for ``model`` when there is none."""
    store = open_store(index, key, overrides, snapshot_every)
    if store is None:
        if not model.config_file:
            raise UserError(f"{index} does not exist: to start an empty gallery there, pass --config-file CFG "
                            "MODEL.WEIGHTS FILE (the model that will embed it)")
        embedder = Embedder(load_model_config(model.config_file, model.opts))
        return create_store(index, embedder.provenance, new, key, snapshot_every), embedder
    try:
        return store, store.query_embedder(model.config_file, model.opts, key)
    except BaseException:
        store.close()
        raise


def bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except (OSError, OverflowError) as e:
        raise UserError(f"cannot listen on {host}:{port}: {getattr(e, 'strerror', None) or e}; choose another "
                        "--host or --port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve(store: GalleryStore, embedder: Embedder, sock: socket.socket, batching: Batching, limits: Limits,
          token: str | None) -> None:
    """Serve on ``sock`` (``bind``) until SIGINT or SIGTERM; then the queued requests finish and
    a last snapshot is written."""
    host = sock.getsockname()[0]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    engine = Engine(store, embedder, batching)
    if not token and not is_loopback(host):
        print(f"warning: listening on {host} without --token: anyone who reaches this port can search and add",
              file=sys.stderr)

    def ready() -> None:
        described = store.describe()
        print(f"serving {store.files.index} ({described['rows']} rows, {described['kind']}, "
              f"{store.provenance.meta_architecture} weights {store.provenance.weights_sha256[:12]}) at {url}"
              + (" (token required)" if token else ""), flush=True)

    app = build_app(engine, limits, token, ready)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=30)
    try:
        _Server(config).run(sockets=[sock])
    finally:
        sock.close()
    print(f"stopped: {store.ntotal} rows, {store.snapshot_rows} of them in the last snapshot", flush=True)


class _Server(uvicorn.Server):
    """uvicorn raises SIGTERM or SIGINT again once its graceful shutdown is done, so the process
    would end by the signal (or by KeyboardInterrupt) after the queued work and the last
    snapshot were finished; a stop that finished its work is a clean exit, status 0."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()
