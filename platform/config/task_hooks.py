"""Per task: the log context, Sentry tags, one JSON log line and the outcome count.

Connected to Celery's signals by ``config.celery``. The line has the task's name, id,
outcome and duration, never its arguments or return value (emails' links carry
one-time tokens). The workspace (its schema name, as in the request lines) is the
task's ``schema_name`` argument when it has one.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import sys
import time

from celery.signals import task_postrun, task_prerun

from . import logs

task_logger = logging.getLogger(logs.TASK_LOGGER)
_running: dict[str, tuple[float, object]] = {}


def _workspace(task, args: tuple | None, kwargs: dict | None) -> str:
    """The task's ``schema_name`` argument (by keyword or position), else ""."""
    schema = (kwargs or {}).get("schema_name")
    if schema is None and args:
        try:
            bound = inspect.signature(task.run).bind_partial(*args, **(kwargs or {}))
        except (TypeError, ValueError):
            return ""
        schema = bound.arguments.get("schema_name")
    return schema if isinstance(schema, str) else ""


def _on_prerun(task_id=None, task=None, args=None, kwargs=None, **_extra) -> None:
    from core.context import current

    ctx = current()  # bound by core.celery_context (connected earlier, runs first)
    # A task passes its principal to the services it calls; the process itself is
    # the system.
    actor = "system"
    workspace = _workspace(task, args, kwargs)
    token = logs.activate(request_id=ctx.request_id, workspace=workspace, actor=actor)
    _running[task_id] = (time.perf_counter(), token)
    # The SDK is imported only where Sentry is configured (config.sentry): 2 MB a worker.
    sentry_sdk = sys.modules.get("sentry_sdk")
    if sentry_sdk and sentry_sdk.get_client().is_active():  # its Celery integration
        sentry_sdk.set_tag("request_id", ctx.request_id)
        sentry_sdk.set_tag("workspace", workspace or "public")


def _on_postrun(task_id=None, task=None, state=None, **_extra) -> None:
    from .metrics import count_task

    started, token = _running.pop(task_id, (None, None))
    seconds = time.perf_counter() - started if started is not None else 0.0
    name = getattr(task, "name", "?")
    outcome = (state or "unknown").lower()
    count_task(name, outcome)
    task_logger.log(
        logging.ERROR if outcome == "failure" else logging.INFO,
        "task",
        extra={"task": name, "task_id": task_id, "outcome": outcome,
               "duration_ms": round(seconds * 1000, 2)},
    )  # fmt: skip
    if token is not None:
        # A token from another context (should not happen) cannot be reset: drop it.
        with contextlib.suppress(ValueError):
            logs.deactivate(token)


def connect() -> None:
    task_prerun.connect(_on_prerun, weak=False, dispatch_uid="config.task_prerun")
    task_postrun.connect(_on_postrun, weak=False, dispatch_uid="config.task_postrun")
