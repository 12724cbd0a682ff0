"""What a request did wrong, as the HTTP status and the one line the client reads.

A ``RequestError`` is a ``UserError`` with a status: the service answers it as ``{"error": "..."}``
in one line, the way a tool prints ``error: ...`` and exits 2; nothing a client sends reaches it
as a 500 with a traceback.
"""
from __future__ import annotations

from vreid.errors import UserError


class RequestError(UserError):
    """Bad input from an HTTP client; ``status`` is the 4xx (or 503) it is answered with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def bad_request(message: str) -> RequestError:
    return RequestError(400, message)


def too_large(message: str) -> RequestError:
    return RequestError(413, message)


def shown(name: str | None, limit: int = 80) -> str:
    """A client's file or field name as messages quote it: repr'd and cut, so it can neither
    break the one line nor fill it."""
    text = repr(name or "")
    return text if len(text) <= limit else text[:limit - 4] + "...'"
