"""The Celery task wrapper: every task runs with a bound audit context.

Connected to ``task_prerun`` / ``task_postrun`` in ``AuditConfig.ready``. The
actor is the system, unless the task's kwargs carry ``audit_actor`` (a dict
``{"type", "id", "display"}``, see ``actor_kwarg``), for work done on behalf of
someone. The request id is the one of the request that queued the task (sent
as a message header by ``before_task_publish``), else the task's id.
"""

import contextlib

from celery.signals import before_task_publish, task_postrun, task_prerun

from . import context

HEADER = "atrium_request_id"
ACTOR_KWARG = "audit_actor"
_tokens: dict[str, object] = {}


def actor_kwarg(actor: context.Actor | None = None) -> dict:
    """``{"audit_actor": ...}`` for ``task.delay(..., **actor_kwarg())``: the current actor."""
    return {ACTOR_KWARG: (actor or context.current().actor).as_dict()}


def _on_publish(headers=None, **_kwargs) -> None:
    request_id = context.current().request_id
    if headers is not None and request_id:
        headers.setdefault(HEADER, request_id)


def _on_prerun(task_id=None, task=None, kwargs=None, **_kwargs) -> None:
    request = getattr(task, "request", None)
    actor_data = (kwargs or {}).get(ACTOR_KWARG)
    actor = context.Actor.from_dict(actor_data) if isinstance(actor_data, dict) else context.SYSTEM
    if getattr(request, "is_eager", False):
        request_id = context.current().request_id or task_id or ""
    else:
        request_id = (request.get(HEADER) if request is not None else None) or task_id or ""
    ctx = context.AuditContext(actor=actor, request_id=str(request_id)[:64])
    _tokens[task_id] = context.activate(ctx)


def _on_postrun(task_id=None, **_kwargs) -> None:
    token = _tokens.pop(task_id, None)
    if token is not None:
        # A token from another context (should not happen) cannot be reset: drop it.
        with contextlib.suppress(ValueError):
            context.deactivate(token)


def connect() -> None:
    before_task_publish.connect(_on_publish, weak=False, dispatch_uid="audit.publish")
    task_prerun.connect(_on_prerun, weak=False, dispatch_uid="audit.prerun")
    task_postrun.connect(_on_postrun, weak=False, dispatch_uid="audit.postrun")
