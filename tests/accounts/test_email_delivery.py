"""Account emails go through the outbox (core.outbox, tested in tests/core): queued on
commit, rendered in the recipient's language from the message a worker receives,
retried while the mail server is down; a reset token never waits in the broker."""

import pytest
from celery.exceptions import Retry
from django.core import mail
from django_tenants.utils import schema_context

from accounts.models import Invitation, User
from accounts.tasks import send_password_reset
from tests.conftest import PASSWORD, client_for, next_task
from tests.core.helpers import call_as_worker, run_as_worker, smtp_at
from uploads.clamd_process import free_port

from .helpers import link_path


def test_invitation_email_is_sent_by_the_worker(tenant_a, admin_client_a, on_commit, real_broker):
    with on_commit():
        admin_client_a.post("/staff/invite/", {"emails": "nina@alpha.test", "role": "admin"})
    assert mail.outbox == []  # nothing is sent in the request
    message = next_task(real_broker)
    assert message.name == "core.tasks.send_email"
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


def test_email_change_is_mailed_in_the_users_language(tenant_a, member_a, on_commit, real_broker):
    from accounts.services import email_change_request

    with schema_context(tenant_a.schema_name):
        User.objects.filter(pk=member_a.pk).update(language="de")
        member_a.refresh_from_db()
        with on_commit():
            email_change_request(actor=member_a, new_email="m2@alpha.test", password=PASSWORD)
    message = next_task(real_broker)
    assert message.name == "core.tasks.send_email"
    assert message.kwargs["language"] == "de" and message.kwargs["to"] == "m2@alpha.test"


def test_a_reset_retried_after_a_mail_failure_still_carries_no_token(
    tenant_a, member_a, real_broker
):
    kwargs = {"schema_name": tenant_a.schema_name, "email": member_a.email}
    with smtp_at(free_port()), pytest.raises(Retry):  # nothing listens there
        call_as_worker(send_password_reset, **kwargs)
    retry = next_task(real_broker)
    assert retry.name == "accounts.tasks.send_password_reset"
    # Only the address and workspace: the next try makes a new token and link.
    assert retry.kwargs == kwargs and retry.headers["retries"] == 1
