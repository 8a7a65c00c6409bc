"""Account emails go through the worker: queued on commit, rendered in the recipient's
language from the message a worker receives, retried while the mail server is down."""

import smtplib

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.test import override_settings
from django_tenants.utils import schema_context

from accounts.models import Invitation, User
from accounts.tasks import is_temporary, send_templated_email
from config.celery import app as celery_app
from tests.conftest import client_for, next_task
from uploads.clamd_process import free_port

from .helpers import link_path


def run_as_worker(message) -> None:
    task = celery_app.tasks[message.name]
    task.apply(args=message.args, kwargs=message.kwargs).get()


def test_invitation_email_is_sent_by_the_worker(tenant_a, admin_client_a, on_commit, real_broker):
    with on_commit():
        admin_client_a.post("/staff/invite/", {"emails": "nina@alpha.test", "role": "admin"})
    assert mail.outbox == []  # nothing is sent in the request
    message = next_task(real_broker)
    assert message.kwargs["to"] == "nina@alpha.test"
    run_as_worker(message)
    [sent] = mail.outbox
    invitation = Invitation.objects.get(email="nina@alpha.test")
    assert link_path(sent, "/invite/")
    assert str(invitation.expires_at.year) in sent.body  # the datetime survived the broker


def test_reset_is_queued_for_any_address_and_mailed_in_the_users_language(
    tenant_a, member_a, on_commit, real_broker
):
    with schema_context(tenant_a.schema_name):
        User.objects.filter(pk=member_a.pk).update(language="de")
    visitor = client_for(tenant_a)
    with on_commit():
        for email in (member_a.email, "ghost@alpha.test"):
            response = visitor.post("/accounts/password-reset/", {"email": email})
            assert response.status_code == 302
    assert mail.outbox == []
    # One message per request, known address or not, and no token in either.
    known, unknown = next_task(real_broker), next_task(real_broker)
    assert known.name == unknown.name == "accounts.tasks.send_password_reset"
    assert known.kwargs == {"schema_name": tenant_a.schema_name, "email": member_a.email}
    assert unknown.kwargs["email"] == "ghost@alpha.test"
    run_as_worker(unknown)
    assert mail.outbox == []
    run_as_worker(known)
    [sent] = mail.outbox
    assert "Passwort" in sent.subject
    assert link_path(sent, "/accounts/reset/")


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ConnectionRefusedError(), True),
        (smtplib.SMTPServerDisconnected("gone"), True),
        (smtplib.SMTPResponseException(451, b"try later"), True),
        (smtplib.SMTPRecipientsRefused({"a@x.test": (450, b"mailbox busy")}), True),
        (smtplib.SMTPRecipientsRefused({"a@x.test": (550, b"no such user")}), False),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_temporary_mail_failures_are_retried(error, retried):
    assert is_temporary(error) is retried


@override_settings(
    EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    EMAIL_HOST="127.0.0.1",
    EMAIL_PORT=free_port(),  # nothing listens there: connection refused
    EMAIL_TIMEOUT=2,
)
def test_unreachable_mail_server_is_retried_not_lost(real_broker):
    kwargs = {"to": "a@alpha.test", "template": "email_changed", "language": "en",
              "context": {"new_email": "b@alpha.test", "workspace": "Alpha"}}  # fmt: skip
    send_templated_email.push_request(retries=0, is_eager=False, called_directly=False)
    try:
        with pytest.raises(Retry):
            send_templated_email(**kwargs)
    finally:
        send_templated_email.pop_request()
    retry = next_task(real_broker)  # the retry waits on the broker
    assert retry.name == "accounts.tasks.send_templated_email"
    assert retry.kwargs == kwargs and retry.headers["retries"] == 1
    assert retry.headers["eta"]  # after RETRY_FIRST_S, not at once
