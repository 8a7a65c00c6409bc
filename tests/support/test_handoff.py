"""The hand-off from the console to the workspace host: a signed, single-use token valid
60 seconds on one host, which signs a fresh browser in as the user, with nothing of the
user's own account touched. Replayed, expired, altered and cross-host tokens refused."""

import time

import pytest
from axes.models import AccessAttempt
from django.core import signing
from django_tenants.utils import schema_context

from accounts.models import User, UserSession
from support.models import SupportSession
from support.services import HANDOFF_SALT, support_handoff_issue
from tests.accounts.helpers import actions_since, audit_mark
from tests.conftest import client_for

from .conftest import consent, handed_off_client, start, user_row


@pytest.fixture
def session_a(vendor, tenant_a, member_a):
    consent(tenant_a, "read_only")
    return start(vendor, tenant_a, member_a)


def _post(tenant, token):
    return client_for(tenant).post("/support/handoff/", {"token": token})


def test_hand_off_signs_in_as_the_user_and_touches_nothing_of_theirs(
    vendor, tenant_a, member_a, session_a
):
    with schema_context(tenant_a.schema_name):
        users_before = User.objects.count()
        sessions_before = UserSession.objects.count()
        attempts_before = AccessAttempt.objects.count()
    last_login = user_row(tenant_a, member_a.pk).last_login
    mark = audit_mark()
    client = handed_off_client(vendor, tenant_a, session_a)
    page = client.get("/")
    assert page.status_code == 200
    assert b'id="support-banner"' in page.content
    assert vendor.email.encode() in page.content and b"T-1234" in page.content
    with schema_context(tenant_a.schema_name):
        assert User.objects.count() == users_before  # no seat, no vendor row in the workspace
        assert UserSession.objects.count() == sessions_before  # not one of the user's sessions
        assert AccessAttempt.objects.count() == attempts_before
    assert user_row(tenant_a, member_a.pk).last_login == last_login
    assert actions_since(tenant_a, mark)[:2] == ["support.session_joined", "support.request_served"]
    assert "auth.login" not in actions_since(tenant_a, mark)
    session_a.refresh_from_db()
    assert session_a.handoff_used_at is not None


def test_a_replayed_token_is_refused(vendor, tenant_a, session_a):
    token = support_handoff_issue(actor=vendor, session_id=str(session_a.pk)).token
    assert _post(tenant_a, token).status_code == 302
    replay = _post(tenant_a, token)
    assert replay.status_code == 403 and b"already used" in replay.content


def test_a_newer_token_kills_the_older_one(vendor, tenant_a, session_a):
    old = support_handoff_issue(actor=vendor, session_id=str(session_a.pk)).token
    new = support_handoff_issue(actor=vendor, session_id=str(session_a.pk)).token
    assert _post(tenant_a, old).status_code == 403
    assert _post(tenant_a, new).status_code == 302


def test_an_expired_token_is_refused(vendor, tenant_a, session_a, monkeypatch):
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 61)  # signed 61 s ago
    token = support_handoff_issue(actor=vendor, session_id=str(session_a.pk)).token
    monkeypatch.setattr(time, "time", real)
    response = _post(tenant_a, token)
    assert response.status_code == 403 and b"expired" in response.content


def test_an_altered_token_is_refused(vendor, tenant_a, session_a):
    token = support_handoff_issue(actor=vendor, session_id=str(session_a.pk)).token
    payload, rest = token.split(":", 1)
    data = signing.loads(token, salt=HANDOFF_SALT)
    forged_payload = signing.dumps({**data, "sid": str(session_a.pk)}, salt="another-salt")
    for forged in (
        forged_payload,  # signed with another key/salt
        payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + ":" + rest,  # body changed
        token[:-3] + ("xyz" if token[-3:] != "xyz" else "abc"),  # signature changed
        "",
    ):
        response = _post(tenant_a, forged)
        assert response.status_code == 403 and b"not valid" in response.content, forged
    assert _post(tenant_a, token).status_code == 302  # the genuine one still works once


def test_a_token_taken_to_another_workspace_is_refused(vendor, tenant_a, tenant_b, session_a):
    token = support_handoff_issue(actor=vendor, session_id=str(session_a.pk)).token
    response = _post(tenant_b, token)
    assert response.status_code == 403 and b"another workspace" in response.content
    assert _post(tenant_a, token).status_code == 302  # not burnt by the attempt


def test_a_token_posted_to_another_host_of_the_same_schema_is_refused(vendor, tenant_a, session_a):
    token = support_handoff_issue(actor=vendor, session_id=str(session_a.pk)).token
    data = signing.loads(token, salt=HANDOFF_SALT)
    other_host = signing.dumps({**data, "h": "evil.example"}, salt=HANDOFF_SALT)
    response = _post(tenant_a, other_host)
    assert response.status_code == 403 and b"another workspace" in response.content


def test_consent_is_checked_again_at_hand_off(vendor, tenant_a, session_a):
    token = support_handoff_issue(actor=vendor, session_id=str(session_a.pk)).token
    consent(tenant_a, "off")
    response = _post(tenant_a, token)
    assert response.status_code == 403 and b"consent withdrawn" in response.content
    session_a.refresh_from_db()
    assert session_a.end_cause == "consent_withdrawn"


def test_only_the_sessions_own_vendor_gets_a_token(vendor_admin, session_a):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        support_handoff_issue(actor=vendor_admin, session_id=str(session_a.pk))
    assert SupportSession.objects.get(pk=session_a.pk).handoff_nonce_hash == ""
