"""The outbox's Celery task: render and send one queued email, retrying while the mail
server is unreachable or answers "try later" (``core.outbox``)."""

from typing import Any

from celery import shared_task

from . import outbox


@shared_task(name="core.tasks.send_email", **outbox.TASK_OPTIONS)
def send_email(self, *, to: str, template: str, context: dict[str, Any], language: str) -> int:
    """Send one email of ``core.outbox.send_email``/``send_after_commit``."""
    return outbox.deliver(self, to=to, template=template, context=context, language=language)
