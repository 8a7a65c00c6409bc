"""The email outbox: the one way any module sends an email.

An email is a template name, a recipient, a small JSON context and a language. It is
queued as a Celery task (``core.tasks.send_email``) and rendered and sent by a worker:

- SMTP stays out of the request: a slow or failing mail server neither delays nor
  breaks a page whose change is already committed.
- Temporary failures (the network, a 4xx answer) are retried with backoff (30 s,
  doubling, at most 10 minutes, about 2.5 hours in all); permanent ones (a 5xx
  answer: unknown recipient, refused sender, bad credentials) are not.
- The worker renders in the recipient's language (``translation.override``).
- The context travels as the task's JSON arguments (strings, numbers, datetimes: kombu's
  JSON keeps them as datetimes). A secret that need not wait in the broker (a
  password-reset token) is not put there: the module's own task makes it in the worker
  and sends with ``deliver``, under the same retry policy.

Templates: ``<template>_subject.txt`` and ``<template>_body.txt`` (plain text, rendered
without HTML escaping: "Müller & Söhne" stays as it is), and optionally
``<template>_body.html`` (escaped as any HTML page), sent as the HTML alternative.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import Context, TemplateDoesNotExist, engines
from django.utils import translation

from . import queue

__all__ = [
    "MAX_RETRIES",
    "RETRY_FIRST_S",
    "RETRY_MAX_S",
    "TASK_OPTIONS",
    "deliver",
    "is_temporary",
    "render",
    "send_after_commit",
    "send_email",
    "send_now",
]

# Waits between tries: 30 s, doubling, at most 10 minutes (below the Redis broker's
# one-hour visibility timeout, so a waiting retry is never handed to a second worker):
# about 2.5 hours in all, well inside the lifetime of every link we mail.
RETRY_FIRST_S = 30
RETRY_MAX_S = 600
MAX_RETRIES = 20

# The options of every task that sends email: ``@shared_task(**TASK_OPTIONS)``.
TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "ignore_result": True,
    "max_retries": MAX_RETRIES,
}


def _language(language: str) -> str:
    return language or translation.get_language() or settings.LANGUAGE_CODE


def send_email(*, to: str, template: str, context: dict[str, Any], language: str = "") -> None:
    """Queue ``template`` for ``to`` now, rendered in ``language`` (else the active
    language). For code that runs after its change committed (a task, a view that
    changes nothing); inside a transaction use ``send_after_commit``."""
    # By name: the task module imports this one (its delivery policy).
    queue.task("core.tasks.send_email").delay(
        to=to, template=template, context=context, language=_language(language)
    )


def send_after_commit(
    *, to: str, template: str, context: dict[str, Any], language: str = ""
) -> None:
    """Queue ``template`` for ``to`` once the current transaction commits (nothing if it
    rolls back), rendered in ``language`` (else the language active now)."""
    language = _language(language)
    transaction.on_commit(
        lambda: send_email(to=to, template=template, context=context, language=language)
    )


def _text(context: dict[str, Any]) -> Context:
    return Context(context, autoescape=False)


def render(*, template: str, context: dict[str, Any], language: str) -> tuple[str, str, str | None]:
    """``(subject, text body, html body or None)`` of ``template`` in ``language``.

    The plain-text parts are rendered with autoescaping off (text is not HTML: an
    ``&`` stays an ``&``); the optional HTML part with autoescaping on."""
    engine = engines["django"].engine
    with translation.override(language):
        subject = engine.get_template(f"{template}_subject.txt").render(_text(context))
        body = engine.get_template(f"{template}_body.txt").render(_text(context))
        try:
            html_template = engine.get_template(f"{template}_body.html")
        except TemplateDoesNotExist:
            html = None
        else:
            html = html_template.render(Context(context, autoescape=True))
    return " ".join(subject.split()), body, html


def send_now(*, to: str, template: str, context: dict[str, Any], language: str) -> int:
    """Render and send one email at once (the task's body); the number sent (1)."""
    subject, body, html = render(template=template, context=context, language=language)
    message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    if html is not None:
        message.attach_alternative(html, "text/html")
    return message.send()


def is_temporary(exc: BaseException) -> bool:
    """Worth another try: the network, or a 4xx answer of the mail server. A 5xx answer
    (unknown recipient, refused sender, bad credentials) will not change; not retried."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, OSError)  # includes the other SMTP errors, timeouts, refusals


def _retry_or_raise(task, send: Callable[[], int]) -> int:
    """Run ``send`` in the bound Celery ``task``; on a temporary failure, schedule the
    task again after the backoff, else (or after ``MAX_RETRIES``) let the error out."""
    try:
        return send()
    except Exception as exc:
        if not is_temporary(exc) or task.request.retries >= MAX_RETRIES:
            raise  # Celery logs it (and Sentry, without the task's arguments)
        countdown = min(RETRY_MAX_S, RETRY_FIRST_S * 2**task.request.retries)
        raise task.retry(exc=exc, countdown=countdown) from exc


def deliver(task, *, to: str, template: str, context: dict[str, Any], language: str) -> int:
    """Send from inside a bound Celery ``task`` declared with ``TASK_OPTIONS``, under the
    outbox's retry policy: a temporary failure runs the whole task again later.

    For a module's own task that must make the context in the worker (a token that
    should not wait in the broker, a lookup whose timing the request must not show).
    """
    return _retry_or_raise(
        task, lambda: send_now(to=to, template=template, context=context, language=language)
    )
