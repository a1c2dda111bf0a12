"""Structured logs: one JSON object a line, each carrying the request id, user and device.

Every request gets an id: the `X-Request-Id` a proxy sent, when it looks like one, else a
new one. It is echoed in the answer's `X-Request-Id` header, so a support ticket quoting it
finds every line the request logged, on whichever worker or host it ran. The fields come
from the request being served (`flask.g`), so a log call anywhere (the engine, a domain
service) carries them without passing them along.

LOG_FORMAT=json (the production default) installs the JSON handler on the root logger;
`text` leaves logging as Python and gunicorn set it up.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import IO

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
# What a proxy's request id looks like (uuids, hex, nginx's $request_id, AWS trace ids);
# anything else (too long, control characters, spaces) is replaced, never logged raw.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}")

access_log = logging.getLogger("fieldsync.access")

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_CONTEXT = ("request_id", "user", "device")


def init_request_logging(app: Flask) -> None:
    """Give each request an id, echo it in the answer, log one access line per request,
    and install the JSON handler when LOG_FORMAT is json."""
    app.before_request(_start_request)
    app.after_request(_finish_request)
    if app.config.get("LOG_FORMAT") == "json":
        configure_json_logging(level=app.config.get("LOG_LEVEL", "INFO"))


def request_id() -> str | None:
    """The current request's id; None outside a request."""
    return g.get("request_id") if has_request_context() else None


def _start_request() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or ""
    if access_log.isEnabledFor(logging.INFO):
        elapsed = time.perf_counter() - g.get("request_started", time.perf_counter())
        access_log.info("%s %s %s", request.method, request.path, response.status_code,
                        extra={"method": request.method, "path": request.path,
                               "status": response.status_code,
                               "duration_ms": round(elapsed * 1000, 2)})
    return response


class RequestContextFilter(logging.Filter):
    """Adds request_id, user and device (None outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        principal = g.get("principal") if has_request_context() else None
        record.request_id = request_id()
        record.user = principal.user_id if principal else None
        record.device = principal.device_id if principal else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the request context, any
    `extra=` fields, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname, "logger": record.name,
                "message": record.getMessage()}
        line.update({name: getattr(record, name, None) for name in _CONTEXT})
        line.update({k: v for k, v in record.__dict__.items()
                     if k not in _STANDARD and k not in _CONTEXT})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at each record, as logging.lastResort does, so a
    replaced stderr (daemonising, test capture) never leaves it writing to a closed file."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def json_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing JSON lines with the request context to `stream` (stderr)."""
    handler = logging.StreamHandler(stream) if stream else _StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.fieldsync_json = True  # type: ignore[attr-defined]
    return handler


def configure_json_logging(*, level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Send the root logger's records to one JSON handler; idempotent (one app per worker,
    but tests and the CLI may build several)."""
    root = logging.getLogger()
    if not any(getattr(h, "fieldsync_json", False) for h in root.handlers):
        root.addHandler(json_handler(stream))
    root.setLevel(level)
