"""JSON log lines on stdout: one per request and per task, each with its context.

Every record gets ``request_id``, ``workspace`` and ``actor`` from the context
bound for the running request or task (``bind``), so a line logged deep inside a
view carries them too. Paths are logged without query strings and with the
secret parts of a URL masked (``safe_path``): invitation, reset, sign-in and
email-change links carry one-time tokens in their path.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

REQUEST_LOGGER = "atrium.request"
TASK_LOGGER = "atrium.task"

# Resolved URL arguments logged as they are; any other text argument is masked.
SAFE_URL_KWARGS = frozenset({"action", "slug"})
MASK = "<masked>"
# In a path that resolves to no view, a segment that looks like a token is masked.
_TOKEN_SEGMENT = re.compile(r"^[A-Za-z0-9_\-:.=~]{20,}$")


@dataclass(frozen=True)
class LogContext:
    request_id: str = ""
    workspace: str = ""
    actor: str = ""
    # For a request: returns (workspace, actor) as known at the time of the line
    # (routing and sign-in happen after the context is bound).
    lookup: Callable[[], tuple[str, str]] | None = None


_context: contextvars.ContextVar[LogContext] = contextvars.ContextVar(
    "log_context",
    default=LogContext(),  # noqa: B039 - frozen, so safe to share
)


def current() -> LogContext:
    return _context.get()


def activate(**values) -> contextvars.Token:
    """Bind ``values`` until ``deactivate(token)`` (for hooks without a ``with`` block)."""
    return _context.set(replace(_context.get(), **values))


def deactivate(token: contextvars.Token) -> None:
    _context.reset(token)


def update(**values: str) -> None:
    """Change the bound context in place (e.g. the actor, known only after the view ran)."""
    _context.set(replace(_context.get(), **values))


@contextmanager
def bind(**values: str) -> Iterator[LogContext]:
    token = activate(**values)
    try:
        yield current()
    finally:
        deactivate(token)


def _mask_segments(path: str) -> str:
    return "/".join(MASK if _TOKEN_SEGMENT.match(part) else part for part in path.split("/"))


def safe_path(request: Any) -> str:
    """``request.path`` without its secrets: the resolved view's text arguments are
    masked (unless in ``SAFE_URL_KWARGS``), and so are token-like segments of a
    path that resolved to nothing. Never the query string."""
    path = getattr(request, "path", "") or ""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return _mask_segments(path)
    for name, value in (match.kwargs or {}).items():
        if name in SAFE_URL_KWARGS or not isinstance(value, str) or not value:
            continue
        path = path.replace(f"/{value}/", f"/{MASK}/")
    return path


class JsonFormatter(_JsonFormatter):
    """python-json-logger's formatter with the fields every Atrium line has."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level",
                                            "name": "logger"})  # fmt: skip
        kwargs.setdefault("timestamp", False)
        super().__init__(*args, **kwargs)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def formatException(self, ei) -> str:
        return redact_text(super().formatException(ei))

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_data, record, message_dict)
        ctx = current()
        values = {"request_id": ctx.request_id, "workspace": ctx.workspace, "actor": ctx.actor}
        if ctx.lookup is not None and not (ctx.workspace and ctx.actor):
            workspace, actor = ctx.lookup()
            values["workspace"] = values["workspace"] or workspace
            values["actor"] = values["actor"] or actor
        for name, value in values.items():
            if name not in log_data:
                log_data[name] = value or None
        # Django attaches the request object to its records: never serialise it.
        log_data.pop("request", None)
        log_data.pop("server_time", None)


# One-time tokens as they appear in any text: Django's signed values (``signing.dumps``:
# payload:timestamp:signature, our emailed links) and password-reset tokens.
_SECRET_TEXT = [
    re.compile(r"[A-Za-z0-9_\-]{8,}:[A-Za-z0-9]{4,}:[A-Za-z0-9_\-]{20,}"),
    re.compile(r"\b[0-9a-z]{1,13}-[0-9a-f]{20,}\b"),
    re.compile(r"(/reset/)[^/\s\"']+/[^/\s\"']+"),
]


def redact_text(text: str) -> str:
    """``text`` with anything shaped like a one-time token masked."""
    for pattern in _SECRET_TEXT:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text


class RedactRequestPaths(logging.Filter):
    """Django's ``django.request`` and ``django.server`` lines name the raw path
    ("Not Found: /invite/<token>/"): mask it as the request line does. Any other
    line (a library's, e.g. django-axes naming ``path_info``) has token-shaped
    text masked (``redact_text``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        self._mask_paths(record)
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True

    def _mask_paths(self, record: logging.LogRecord) -> None:
        request = getattr(record, "request", None)
        if request is not None and isinstance(record.args, tuple):
            raw = getattr(request, "path", None)
            masked = safe_path(request)
            if raw and raw != masked:
                record.args = tuple(masked if arg == raw else arg for arg in record.args)
        elif record.name == "django.server" and isinstance(record.args, tuple):
            # runserver's access line: "GET /path?query HTTP/1.1" as its first argument
            record.args = tuple(
                _mask_request_line(arg) if i == 0 and isinstance(arg, str) else arg
                for i, arg in enumerate(record.args)
            )


def _mask_request_line(line: str) -> str:
    parts = line.split(" ")
    if len(parts) == 3:
        parts[1] = _mask_segments(parts[1].split("?", 1)[0])
    return " ".join(parts)


def logging_config(level: str = "INFO") -> dict:
    """``LOGGING``: every record as one JSON line on stdout.

    Celery's own per-task lines ("received", "succeeded in ...: <return value>")
    are silenced: ``atrium.task`` writes one line per task instead, without
    arguments or return values.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_paths": {"()": "config.logs.RedactRequestPaths"}},
        "formatters": {"json": {"()": "config.logs.JsonFormatter"}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
                "filters": ["redact_paths"],
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # The request line replaces runserver's access line.
            "django.server": {"level": "WARNING"},
            "celery.app.trace": {"level": "WARNING"},
            "celery.worker.strategy": {"level": "WARNING"},
            # Health checks log each failure with its traceback; the probe answer says it.
            "health_check": {"level": "ERROR"},
            # django-axes narrates every successful sign-in; failures and lockouts stay.
            "axes": {"level": "WARNING"},
        },
    }
