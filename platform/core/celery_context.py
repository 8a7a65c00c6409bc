"""Every Celery task runs with a bound request context (``core.context``).

Connected to ``before_task_publish`` / ``task_prerun`` / ``task_postrun`` in
``CoreConfig.ready``. The request id is the one of the request that queued the
task (sent as a message header), else the task's id. Who acts is not carried:
a task passes its principal (``SYSTEM``, or a user it loads) to the service.
"""

import contextlib

from celery.signals import before_task_publish, task_postrun, task_prerun

from . import context

HEADER = "atrium_request_id"
_tokens: dict[str, object] = {}


def _on_publish(headers=None, **_kwargs) -> None:
    request_id = context.current().request_id
    if headers is not None and request_id:
        headers.setdefault(HEADER, request_id)


def _on_prerun(task_id=None, task=None, **_kwargs) -> None:
    request = getattr(task, "request", None)
    if getattr(request, "is_eager", False):
        request_id = context.current().request_id or task_id or ""
    else:
        request_id = (request.get(HEADER) if request is not None else None) or task_id or ""
    _tokens[task_id] = context.activate(context.RequestContext(request_id=str(request_id)[:64]))


def _on_postrun(task_id=None, **_kwargs) -> None:
    token = _tokens.pop(task_id, None)
    if token is not None:
        # A token from another context (should not happen) cannot be reset: drop it.
        with contextlib.suppress(ValueError):
            context.deactivate(token)


def connect() -> None:
    before_task_publish.connect(_on_publish, weak=False, dispatch_uid="core.publish")
    task_prerun.connect(_on_prerun, weak=False, dispatch_uid="core.prerun")
    task_postrun.connect(_on_postrun, weak=False, dispatch_uid="core.postrun")
