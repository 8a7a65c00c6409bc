"""Emails of the account services: queued when their transaction commits, rendered and
sent by a Celery worker (``accounts.tasks.send_templated_email``).

Sending in the worker keeps SMTP out of the request: a slow or failing mail server
neither delays nor breaks a page whose change is already committed (the task retries),
and a password-reset request takes the same time whether or not the address has an
account. The context travels as the task's JSON arguments: strings, numbers and
datetimes (kombu's JSON keeps them as datetimes).
"""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation


def send_after_commit(*, to: str, template: str, context: dict, language: str = "") -> None:
    """Queue ``accounts/email/<template>_subject.txt`` and ``_body.txt`` for ``to`` once
    the current transaction commits, in ``language`` (else the active language)."""
    from .tasks import send_templated_email

    language = language or translation.get_language() or settings.LANGUAGE_CODE
    transaction.on_commit(
        lambda: send_templated_email.delay(
            to=to, template=template, context=context, language=language
        )
    )


def send_now(*, to: str, template: str, context: dict, language: str) -> int:
    """Render and send one email (the task's body)."""
    with translation.override(language):
        subject = render_to_string(f"accounts/email/{template}_subject.txt", context)
        body = render_to_string(f"accounts/email/{template}_body.txt", context)
    return send_mail(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [to])
