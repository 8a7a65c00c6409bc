"""Background work of the accounts module."""

from smtplib import SMTPException

from celery import shared_task

from .emails import send_now


@shared_task(
    acks_late=True,
    ignore_result=True,
    # The mail server refused or could not be reached: try again later, up to a day.
    autoretry_for=(OSError, SMTPException),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=30,
)
def send_templated_email(*, to: str, template: str, context: dict, language: str) -> int:
    return send_now(to=to, template=template, context=context, language=language)
