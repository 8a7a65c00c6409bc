"""Reading: the admins' log (filters, pages, changes), members' own activity, streamed
exports, and no way for one workspace to read another's events."""

import csv
import io
import json

import pytest
from django.http import StreamingHttpResponse
from django_tenants.utils import schema_context

import audit.services as audit
from core.principal import SYSTEM
from tests.conftest import PASSWORD, client_for, sign_in


@pytest.fixture
def member_a(tenant_a):
    with schema_context(tenant_a.schema_name):
        from accounts.models import User

        return User.objects.create_user("member@alpha.test", PASSWORD, full_name="Mem Ber")


@pytest.fixture
def member_client_a(tenant_a, member_a):
    client = client_for(tenant_a)
    assert sign_in(client, member_a.email)
    return client


def _record_as(actor_user, action, *, tenant, target=None, changes=None):
    actor = actor_user if actor_user is not None else SYSTEM
    with schema_context(tenant.schema_name):  # a workspace user acts inside its workspace
        return audit.record(action, actor=actor, tenant=tenant, target=target, changes=changes)


def test_admin_sees_the_log_with_changes(owner_client_a, tenant_a, owner_a):
    _record_as(owner_a, "workspace.renamed", tenant=tenant_a, target=tenant_a,
               changes={"name": {"before": "Alpha", "after": "Alpha Partners"}})  # fmt: skip
    response = owner_client_a.get("/audit/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "workspace.renamed" in body and "Alpha → Alpha Partners" in body


def test_filters_narrow_the_log(owner_client_a, tenant_a, owner_a, member_a):
    invited = _record_as(owner_a, "staff.invited", tenant=tenant_a, target=member_a)
    uploaded = _record_as(
        member_a, "document.uploaded", tenant=tenant_a, target=("uploads.document", 5, "Q3.pdf")
    )
    # Which of this test's two events each filter shows: the log is append-only, and tests
    # that committed before this one (on this worker) left events of the same kinds.
    mine = {invited.pk: "staff.invited", uploaded.pk: "document.uploaded"}

    def actions(**query) -> list[str]:
        shown = {event.pk for event in owner_client_a.get("/audit/", query).context["events"]}
        return [action for pk, action in mine.items() if pk in shown]

    assert actions() == ["staff.invited", "document.uploaded"]
    assert actions(action="document.uploaded") == ["document.uploaded"]
    assert actions(action="staff.") == ["staff.invited"]
    assert actions(actor=member_a.email) == ["document.uploaded"]
    assert actions(actor=str(owner_a.pk)) == ["staff.invited"]
    assert actions(target="Q3") == ["document.uploaded"]
    assert actions(since="2000-01-01", until="2000-12-31") == []
    assert actions(since="2000-01-01") == ["staff.invited", "document.uploaded"]


def test_log_is_paginated_by_keyset(owner_client_a, tenant_a):
    events = [_record_as(None, "bulk.thing", tenant=tenant_a, changes={"n": i}) for i in range(55)]
    first = owner_client_a.get("/audit/", {"action": "bulk.thing"})
    assert first.context["next_before"] == events[5].pk
    assert [e.pk for e in first.context["events"]] == [e.pk for e in reversed(events[5:])]
    second = owner_client_a.get("/audit/", {"action": "bulk.thing", "before": events[5].pk})
    assert [e.pk for e in second.context["events"]] == [e.pk for e in reversed(events[:5])]
    assert second.context["next_before"] is None


def test_member_cannot_read_the_tenant_log_or_export(member_client_a):
    for url in ("/audit/", "/audit/export.csv", "/audit/export.jsonl"):
        assert member_client_a.get(url).status_code == 403


def test_anonymous_is_sent_to_sign_in(tenant_a):
    response = client_for(tenant_a).get("/audit/mine/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_member_sees_only_events_about_themselves(member_client_a, tenant_a, owner_a, member_a):
    about_me = _record_as(owner_a, "staff.role_changed", tenant=tenant_a, target=member_a)
    by_me = _record_as(member_a, "document.uploaded", tenant=tenant_a, target=("d", 1, "x"))
    other = _record_as(owner_a, "staff.invited", tenant=tenant_a, target=owner_a)
    response = member_client_a.get("/audit/mine/")
    shown = {e.pk for e in response.context["events"]}
    assert {about_me.pk, by_me.pk} <= shown and other.pk not in shown
    assert "auth.login" in response.content.decode()  # their own sign-in
    assert member_client_a.get(f"/audit/events/{about_me.pk}/").status_code == 200
    assert member_client_a.get(f"/audit/events/{other.pk}/").status_code == 404


def _stream(response) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


def test_export_streams_the_filtered_log_as_csv_and_jsonl(owner_client_a, tenant_a, owner_a):
    for i in range(1200):  # more than one streamed chunk
        _record_as(owner_a, "export.item", tenant=tenant_a, changes={"n": i, "token": "s3"})
    _record_as(owner_a, "other.item", tenant=tenant_a, target=("x", 1, "=HYPERLINK(evil)"))

    response = owner_client_a.get("/audit/export.csv", {"action": "export.item"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(_stream(response))))
    assert len(rows) == 1200 and {r["action"] for r in rows} == {"export.item"}
    assert json.loads(rows[0]["changes"]) == {"n": 1199, "token": "********"}

    response = owner_client_a.get("/audit/export.jsonl", {"action": "export.item"})
    lines = [json.loads(line) for line in _stream(response).splitlines()]
    assert len(lines) == 1200 and lines[-1]["changes"] == {"n": 0, "token": "********"}

    rows = list(csv.DictReader(io.StringIO(_stream(owner_client_a.get(
        "/audit/export.csv", {"action": "other.item"})))))  # fmt: skip
    assert rows[0]["target_display"] == "'=HYPERLINK(evil)"  # no spreadsheet formula


def test_admin_of_a_cannot_read_b_events_through_any_url(owner_client_a, tenant_b):
    secret = _record_as(None, "beta.secret", tenant=tenant_b, target=("x", 42, "beta-only"))
    assert owner_client_a.get(f"/audit/events/{secret.pk}/").status_code == 404
    for url in ("/audit/", "/audit/mine/", "/audit/export.csv", "/audit/export.jsonl"):
        response = owner_client_a.get(url, {"target": "beta-only"})
        if response.streaming:
            assert response.status_code == 200 and "beta.secret" not in _stream(response)
        else:  # the action filter lists every declared action: look at the events only
            assert response.status_code == 200 and response.context["events"] == []
            assert "<code>beta.secret</code>" not in response.content.decode()
    unfiltered = _stream(owner_client_a.get("/audit/export.jsonl"))
    exported = [json.loads(line) for line in unfiltered.splitlines()]
    assert exported and secret.pk not in {item["id"] for item in exported}
    assert "beta.secret" not in {item["action"] for item in exported}


def test_selectors_refuse_a_tenant_other_than_the_current_schema(tenant_a, tenant_b, owner_a):
    from django.core.exceptions import PermissionDenied
    from django.db import connection

    from audit import selectors

    connection.set_tenant(tenant_a)
    with pytest.raises(PermissionDenied):
        selectors.tenant_events(tenant=tenant_b, user=owner_a)
    with pytest.raises(PermissionDenied):  # not vendor staff, and not on the public site
        selectors.chain_events(chain=tenant_b.schema_name, user=owner_a)
