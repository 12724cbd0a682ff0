"""The HTTP API over one gallery, on Starlette (run by uvicorn, ``vreid.serve.server``).

    GET  /                          the search page (page.html: one file, no build step)
    GET  /v1/health                 the gallery, the model, the batching and the limits
    POST /v1/search                 multipart: image (file), k, cameras, after, before, the label (domain)
    POST /v1/gallery                multipart: images (files), metadata (JSON); 201 with the new ids
    GET  /v1/gallery/{id}/image     the image of a row (only images the gallery holds: no client path is opened)

Every refusal is a 4xx with ``{"error": "..."}`` in one line: a body over the limit (413, before it
is read when its length says so), a file that is not an image (400), a decompression bomb (413),
an unknown camera (400), ``k`` out of range (400), a missing or wrong token (401); an unknown
route 404 and a wrong method 405 the same way. A fault of the server is a 500 in the same
shape, its traceback in the server's log only. With a token, every route needs it: as
``Authorization: Bearer TOKEN``, or the cookie that opening ``/?token=TOKEN`` sets for the page,
compared in constant time.
"""
from __future__ import annotations

import hashlib
import hmac
import mimetypes
import os
import time
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from vreid.errors import UserError, one_line
from vreid.serve.engine import Engine
from vreid.serve.errors import RequestError, bad_request, too_large
from vreid.serve.fields import RowMeta, parse_filter, parse_k, parse_label, parse_metadata
from vreid.serve.uploads import DEFAULT_MAX_PIXELS, Upload, decode_upload

PAGE = Path(__file__).with_name("page.html")
TOKEN_COOKIE = "vreid_token"
FORM_FIELD_BYTES = 1 << 20  # a form field other than a file (the metadata JSON of an add)


@dataclass(frozen=True)
class Limits:
    max_body: int = 32 << 20  # bytes of one request
    max_pixels: int = DEFAULT_MAX_PIXELS  # of one image, from its header
    max_k: int = 100
    max_images: int = 64  # crops in one add


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status, headers=headers)


class Api:
    """The routes' handlers over an engine."""

    def __init__(self, engine: Engine, limits: Limits, on_ready: Callable[[], None] = lambda: None):
        self.engine, self.limits, self.on_ready = engine, limits, on_ready
        self.key = engine.embedder.key
        self.label_name = self.key.option if self.key is not None else "domain"
        # without a label the model reads, "auto" where the key has a rule that decides it
        self.default_label = "auto" if self.key is not None and self.key.auto is not None else None
        self.page_html = PAGE.read_text(encoding="utf-8")

    @asynccontextmanager
    async def lifespan(self, app):
        self.engine.start()
        self.on_ready()
        yield
        await run_in_threadpool(self.engine.close)

    async def page(self, request: Request) -> Response:
        response = HTMLResponse(self.page_html, headers={"Cache-Control": "no-store"})
        token = request.query_params.get("token")
        if token:  # TokenCheck let it through, so it is the token: the page's requests carry it from now on
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    async def health(self, request: Request) -> JSONResponse:
        store, model = self.engine.store, self.engine.store.provenance
        label = (None if self.key is None else
                 {"name": self.key.option, "words": list(self.key.words()), "default": self.default_label})
        return JSONResponse({"status": "ok", "gallery": store.describe(), "cameras": sorted(store.cameras)[:1000],
                             "model": {"meta_architecture": model.meta_architecture, "metric": model.metric,
                                       "dim": model.dim, "weights_sha256": model.weights_sha256},
                             "label": label, "batching": self.engine.stats(), "limits": asdict(self.limits)})

    async def search(self, request: Request) -> JSONResponse:
        started = time.perf_counter()
        form = await self._form(request)
        files = _files(form, "image")
        if len(files) != 1:
            raise bad_request(f"send one query image as the file field 'image', got {len(files)}")
        upload = await self._decode(files[0])
        k = parse_k(_text(form, "k"), self.limits.max_k)
        where = parse_filter(_texts(form, "cameras"), _text(form, "after"), _text(form, "before"))
        label = parse_label(_text(form, self.label_name), self.key) or self.default_label
        found = await self.engine.search(upload.image, label, k, where)
        hits = [{**hit, "image": f"/v1/gallery/{hit['id']}/image"} for hit in found["hits"]]
        return JSONResponse({"hits": hits, self.label_name: found["label"], "rows": self.engine.store.ntotal,
                             "took_ms": round((time.perf_counter() - started) * 1000, 2)})

    async def add(self, request: Request) -> JSONResponse:
        form = await self._form(request)
        files = _files(form, "images")
        if not files:
            raise bad_request("send the crops as file fields named 'images'")
        metas = parse_metadata(_text(form, "metadata"), len(files), self.key)
        uploads = [await self._decode(f) for f in files]
        metas = [m if m.label is not None else _with_label(m, self.default_label) for m in metas]
        ids = await self.engine.add(uploads, metas)
        return JSONResponse({"ids": ids, "rows": self.engine.store.ntotal}, status_code=201)

    async def image(self, request: Request) -> Response:
        row = request.path_params["row"]
        path = await run_in_threadpool(self.engine.store.image_path, row)
        if path is None:
            raise RequestError(404, f"no row {row} in the gallery ({self.engine.store.ntotal} rows)")
        if not os.path.isfile(path):
            raise RequestError(404, f"the image of row {row} is no longer on the server's disk")
        media = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media, headers={"Cache-Control": "private, max-age=86400"})

    async def _form(self, request: Request) -> FormData:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise bad_request("send multipart/form-data (curl -F image=@crop.jpg ...)")
        try:
            return await request.form(max_files=self.limits.max_images, max_fields=64,
                                      max_part_size=FORM_FIELD_BYTES)
        except HTTPException as e:
            if "Too many files" in str(e.detail):
                raise too_large(f"more than {self.limits.max_images} images in one request (--max-images); send "
                                "them in several requests") from None
            raise

    async def _decode(self, file: UploadFile) -> Upload:
        data = await file.read()
        return await run_in_threadpool(decode_upload, data, file.filename or "", self.limits.max_pixels)


def _files(form: FormData, name: str) -> list[UploadFile]:
    values = form.getlist(name)
    if any(not isinstance(v, UploadFile) for v in values):
        raise bad_request(f"'{name}' must be a file field (curl -F {name}=@crop.jpg), not text")
    return values


def _texts(form: FormData, name: str) -> list[str]:
    values = form.getlist(name)
    if any(isinstance(v, UploadFile) for v in values):
        raise bad_request(f"'{name}' must be a text field, not a file")
    return values


def _text(form: FormData, name: str) -> str | None:
    values = _texts(form, name)
    return values[-1] if values else None


def _with_label(meta: RowMeta, label: str | None) -> RowMeta:
    return replace(meta, label=label)


# --- errors --------------------------------------------------------------------------------------------------------

async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own refusals (no route, wrong method, a malformed form) in the API's shape."""
    messages = {404: f"not found: {request.url.path} (the routes: GET /, GET /v1/health, POST /v1/search, "
                     "POST /v1/gallery, GET /v1/gallery/ID/image)",
                405: f"{request.method} is not allowed on {request.url.path}"}
    return error_response(exc.status_code, messages.get(exc.status_code, exc.detail), exc.headers)


async def user_error(request: Request, exc: UserError) -> JSONResponse:
    return error_response(getattr(exc, "status", 400), one_line(exc))


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(500, f"internal error ({type(exc).__name__}); the server's log has the traceback")


# --- middleware ----------------------------------------------------------------------------------------------------

class TokenCheck:
    """Every HTTP request needs the token, before anything else is read."""

    def __init__(self, app, token: str):
        self.app, self.digest = app, hashlib.sha256(token.encode()).digest()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or self._allowed(Request(scope)):
            return await self.app(scope, receive, send)
        response = error_response(401, "this server needs its token: send the header Authorization: Bearer TOKEN "
                                       "(the page: open /?token=TOKEN)", {"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)

    def _allowed(self, request: Request) -> bool:
        """Any of the header, the page's cookie or ?token= (the page's first load); each compared
        as SHA-256 digests in constant time, so neither the token's bytes nor its length leak."""
        header = request.headers.get("authorization", "")
        given = [header[7:] if header[:7].lower() == "bearer " else "", request.cookies.get(TOKEN_COOKIE, ""),
                 request.query_params.get("token", "")]
        return any(hmac.compare_digest(hashlib.sha256(g.encode()).digest(), self.digest) for g in given if g)


class BodyLimit:
    """A body over ``limit`` bytes is refused with 413: at once when its Content-Length says so,
    else as soon as that many bytes have come."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = Headers(scope=scope).get("content-length")
        refusal = self._refusal(length)
        if refusal is not None:
            return await refusal(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise too_large(self._message(f"more than {self.limit}"))
            return message

        await self.app(scope, counted, send)

    def _refusal(self, length: str | None) -> Response | None:
        if length is None:
            return None
        if not length.strip().isdigit():
            return error_response(400, f"Content-Length {length[:40]!r} is not a number of bytes")
        return error_response(413, self._message(length.strip())) if int(length) > self.limit else None

    def _message(self, size: str) -> str:
        return (f"request body of {size} bytes, over the limit of {self.limit} (--max-body-mb); send fewer or "
                "smaller images")


def build_app(engine: Engine, limits: Limits = Limits(), token: str | None = None,
              on_ready: Callable[[], None] = lambda: None):
    """The ASGI application: the routes, their errors as JSON, the body limit and the token."""
    api = Api(engine, limits, on_ready)
    routes = [Route("/", api.page), Route("/v1/health", api.health),
              Route("/v1/search", api.search, methods=["POST"]), Route("/v1/gallery", api.add, methods=["POST"]),
              Route("/v1/gallery/{row:int}/image", api.image)]
    handlers = {HTTPException: http_error, UserError: user_error, Exception: server_error}
    app = BodyLimit(Starlette(routes=routes, exception_handlers=handlers, lifespan=api.lifespan), limits.max_body)
    return TokenCheck(app, token) if token else app
