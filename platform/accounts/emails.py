"""Emails sent by account services, always after their transaction commits."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation


def send_after_commit(*, to: str, template: str, context: dict, language: str = "") -> None:
    """Render ``accounts/email/<template>_subject.txt`` and ``_body.txt`` and send on commit."""

    def send() -> None:
        with translation.override(language or translation.get_language()):
            subject = render_to_string(f"accounts/email/{template}_subject.txt", context)
            body = render_to_string(f"accounts/email/{template}_body.txt", context)
        send_mail(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [to])

    transaction.on_commit(send)
