"""A vehicle search service over one gallery (tools/serve.py): an HTTP API and a page, faiss for
the vectors and SQLite for the rows' metadata, micro-batched embedding and search."""
from vreid.serve.app import Limits, build_app
from vreid.serve.engine import Batching, Engine
from vreid.serve.fields import Filter, RowMeta
from vreid.serve.server import ModelChoice, open_gallery, serve
from vreid.serve.store import GalleryStore, NewRow, StoreFiles, create_store, open_store

__all__ = ["Limits", "build_app", "Batching", "Engine", "Filter", "RowMeta", "ModelChoice", "open_gallery", "serve",
           "GalleryStore", "NewRow", "StoreFiles", "create_store", "open_store"]
