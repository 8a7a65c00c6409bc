"""The workspace home page: what admins and members see, the first steps of a new
workspace, and a fixed number of queries however big the workspace is."""

import html
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

import audit.services as audit
from accounts import selectors as accounts_selectors
from accounts.models import Invitation, WorkspacePolicy
from tests.accounts.helpers import make_user
from tests.conftest import client_for, sign_in
from uploads.models import Document

State = Document.State


def text_of(page: str, element_id: str) -> str:
    """The text of the element with ``element_id`` (tags dropped, spaces collapsed)."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(p|ul|section)>', page, re.S)
    assert match, f"#{element_id} not on the page"
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()))


def add_documents(tenant, owner, states):
    with schema_context(tenant.schema_name):
        for i, state in enumerate(states):
            Document.objects.create(
                name=f"doc {i}.txt", size=1000, content_type="text/plain", sha256="0" * 64,
                state=state, uploaded_by=owner,
            )  # fmt: skip


@pytest.fixture
def member_client(tenant_a):
    member = make_user(tenant_a, "mia@alpha.test", "member", full_name="Mia Member")
    client = client_for(tenant_a)
    assert sign_in(client, member.email)
    client.user = member
    return client


def test_a_new_workspace_is_shown_its_first_steps(owner_client_a):
    page = owner_client_a.get("/").content.decode()
    assert "Get started" in page
    for link in ('href="/staff/invite/"', 'href="/documents/"', 'href="/settings/security/"'):
        assert link in page
    assert text_of(page, "seats").startswith("1 of ")
    assert text_of(page, "storage").startswith("0 bytes of ")
    assert text_of(page, "scans") == "No document is waiting for a scan."
    assert text_of(page, "require-2fa").startswith("Two-factor authentication is not required.")
    # The owner just signed in: the activity speaks in sentences, not action names.
    assert "owner@alpha.test signed in" in text_of(page, "activity")
    assert "auth.login" not in page
    assert 'aria-current="page">Home<' in page


def test_admin_sees_seats_storage_scans_and_who_lacks_a_second_factor(
    owner_client_a, tenant_a, owner_a
):
    bob = make_user(tenant_a, "bob@alpha.test", "member", full_name="Bob Builder")
    make_user(tenant_a, "cara@alpha.test", "admin", full_name="Cara Admin")
    with schema_context(tenant_a.schema_name):
        Invitation.objects.create(
            email="dan@alpha.test", role="member", invited_by=owner_a, token_hash="a" * 64,
            expires_at=timezone.now() + timedelta(days=3),
        )  # fmt: skip
        TOTPDevice.objects.create(user=owner_a, name="phone", confirmed=True)
        audit.record(
            "staff.role_changed", actor=owner_a, target=bob,
            changes={"role": {"before": "member", "after": "readonly"}},
        )  # fmt: skip
    add_documents(tenant_a, owner_a, [State.QUARANTINED, State.SCANNING, State.BLOCKED])

    page = owner_client_a.get("/").content.decode()
    assert "Get started" not in page
    assert text_of(page, "seats").startswith("4 of ")  # three people and one invitation
    assert "3 active, 1 pending invitation" in page
    assert text_of(page, "storage").startswith("2.0 KB of ")
    assert text_of(page, "scans") == "2 documents are waiting for their scan."
    assert text_of(page, "blocked").startswith("1 upload was blocked.")
    without = text_of(page, "without-2fa")
    assert without.startswith("2 people have no second factor:")
    assert "Bob Builder" in without and "Cara Admin" in without  # by name
    assert "Owner" not in without
    activity = text_of(page, "activity")
    assert "owner@alpha.test changed Bob Builder's role from Member to Read-only" in activity


def test_the_posture_says_when_two_factor_is_required(tenant_a):
    with schema_context(tenant_a.schema_name):
        assert accounts_selectors.security_posture().require_2fa is False
        WorkspacePolicy.objects.update_or_create(pk=1, defaults={"require_2fa": True})
        cache.clear()  # the policy is cached
        assert accounts_selectors.security_posture().require_2fa is True


def test_member_sees_their_documents_and_their_own_activity_only(member_client, tenant_a, owner_a):
    add_documents(tenant_a, owner_a, [State.AVAILABLE])  # the owner's, not theirs
    with schema_context(tenant_a.schema_name):
        Document.objects.create(
            name="mine.pdf", size=10, content_type="application/pdf", sha256="0" * 64,
            state=State.SCANNING, uploaded_by=member_client.user,
        )  # fmt: skip
        audit.record("staff.invited", actor=owner_a, target=owner_a, changes={"email": "x@y"})
    page = member_client.get("/").content.decode()
    assert 'id="seats"' not in page and 'id="without-2fa"' not in page
    mine = text_of(page, "my-documents")
    assert "mine.pdf" in mine and "Scanning" in mine and "doc 0.txt" not in mine
    activity = text_of(page, "activity")
    assert "mia@alpha.test signed in" in activity and "invited" not in activity
    assert "Set up two-factor authentication" in page


def test_a_member_with_nothing_yet_is_told_what_to_do(member_client):
    page = member_client.get("/").content.decode()
    assert text_of(page, "my-documents").startswith("You have not uploaded anything yet.")


def test_the_dashboard_speaks_german(owner_client_a):
    page = owner_client_a.get("/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Erste Schritte" in page and "Get started" not in page
    assert "hat sich angemeldet" in text_of(page, "activity")


def _dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_workspace(owner_client_a, tenant_a, owner_a):
    from billing.selectors import notice

    notice(tenant_a.pk)  # billing's banner facts are cached per workspace: warm them
    few = _dashboard_queries(owner_client_a)
    for i in range(15):
        make_user(tenant_a, f"p{i}@alpha.test", "member")
    add_documents(tenant_a, owner_a, [State.SCANNING, State.BLOCKED, State.AVAILABLE] * 10)
    with schema_context(tenant_a.schema_name):
        for i in range(20):
            audit.record(
                "staff.invited", actor=owner_a, target=owner_a, changes={"email": f"{i}@x"}
            )
    assert _dashboard_queries(owner_client_a) == few
    assert few <= 25
