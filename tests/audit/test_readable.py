"""The audit trail as people read it: sentences in the reader's language, values by
their names, details one click away, the action filter from the registry."""

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from django_tenants.utils import schema_context

import audit.services as audit
from tests.accounts.helpers import make_user


@pytest.fixture
def bob(tenant_a):
    return make_user(tenant_a, "bob@alpha.test", "member", full_name="Bob Builder")


def record(tenant, actor, action, **kwargs):
    with schema_context(tenant.schema_name):
        return audit.record(action, actor=actor, **kwargs)


def test_events_read_as_sentences_with_values_by_name(owner_client_a, tenant_a, owner_a, bob):
    record(tenant_a, owner_a, "staff.role_changed", target=bob,
           changes={"role": {"before": "member", "after": "readonly"}})  # fmt: skip
    policy = ("accounts.workspacepolicy", 1, "policy")
    record(tenant_a, owner_a, "workspace.policy_changed", target=policy,
           changes={"require_2fa": [False, True]})  # fmt: skip
    record(tenant_a, owner_a, "user.profile_updated", target=owner_a,
           changes={"language": ["", "de"], "time_zone": ["UTC", "Europe/Berlin"]})  # fmt: skip
    page = owner_client_a.get("/audit/").content.decode()
    assert "owner@alpha.test changed Bob Builder&#x27;s role from Member to Read-only" in page
    assert "from no to yes" in page
    assert "— → de" in page and "UTC → Europe/Berlin" in page
    for raw in ("[&#x27;member&#x27;", "[False, True]", "[&#x27;UTC&#x27;", "&#x27;before&#x27;"):
        assert raw not in page


def test_details_are_one_click_away(owner_client_a, tenant_a, owner_a, bob):
    owner_client_a.get("/", HTTP_USER_AGENT="Firefox/131 (Testing)", HTTP_X_REQUEST_ID="req-42")
    record(tenant_a, owner_a, "staff.deactivated", target=bob)
    page = owner_client_a.get("/audit/").content.decode()
    row = page[page.index("deactivated Bob Builder") :]
    row = row[: row.index("</tr>")]
    assert "<details>" in row and "<summary>Details" in row
    for label in ("IP address", "User agent", "Request ID", "<code>staff.deactivated</code>"):
        assert label in row


def test_sentences_and_dates_follow_the_readers_language(owner_client_a, tenant_a, owner_a, bob):
    event = record(tenant_a, owner_a, "staff.role_changed", target=bob,
                   changes={"role": {"before": "member", "after": "admin"}})  # fmt: skip
    when = event.occurred_at.astimezone(UTC)
    english = owner_client_a.get("/audit/").content.decode()
    assert f"{when.day} {when:%b %Y, %H:%M}" in english
    german = owner_client_a.get("/audit/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Mitglied" in german and "Administrator" in german
    assert f"{when.day}.{when.month}.{when.year}, {when:%H:%M}" in german
    assert "changed Bob Builder" not in german


def test_action_filter_offers_the_registry_grouped(owner_client_a):
    page = owner_client_a.get("/audit/").content.decode()
    select = page[page.index('<select name="action"') : page.index("</select>")]
    assert '<optgroup label="auth">' in select and '<optgroup label="staff">' in select
    assert '<option value="auth">' in select and '<option value="staff.role_changed">' in select


def test_a_plain_word_matches_its_group(owner_client_a, tenant_a, owner_a, bob):
    record(tenant_a, owner_a, "staff.deactivated", target=bob)

    def actions(word):
        response = owner_client_a.get("/audit/", {"action": word})
        return {e.action for e in response.context["events"]}, response

    # alpha's log is append-only: earlier tests that committed may have left events in it.
    found, _ = actions("auth")
    assert "auth.login" in found  # the owner's sign-in
    assert all(action.startswith("auth.") for action in found)
    found, response = actions("staff")
    assert "staff.deactivated" in found
    assert all(action.startswith("staff.") for action in found)
    assert '<option value="staff" selected>' in response.content.decode()
    assert actions("staff.deactivated")[0] == {"staff.deactivated"}
    _, response = actions("nonsense")
    assert "No action is called “nonsense”." in response.content.decode()


def test_empty_log_and_no_match_say_so(owner_client_a):
    page = owner_client_a.get("/audit/", {"actor": "nobody-at-all"}).content.decode()
    assert "No events match these filters." in page


def test_exports_keep_their_columns_and_add_the_sentence(owner_client_a, tenant_a, owner_a, bob):
    record(tenant_a, owner_a, "staff.role_changed", target=bob,
           changes={"role": {"before": "member", "after": "readonly"}})  # fmt: skip
    query = {"action": "staff.role_changed"}
    body = b"".join(owner_client_a.get("/audit/export.csv", query).streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert list(rows[0])[:15] == [
        "id", "occurred_at", "actor_type", "actor_id", "actor_display", "impersonator_id",
        "impersonator_display", "action", "target_type", "target_id", "target_display", "ip",
        "user_agent", "request_id", "changes",
    ]  # fmt: skip
    sentence = "owner@alpha.test changed Bob Builder's role from Member to Read-only"
    assert rows[0]["sentence"] == sentence
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$", rows[0]["occurred_at"])
    body = b"".join(owner_client_a.get("/audit/export.jsonl", query).streaming_content).decode()
    line = json.loads(body.splitlines()[0])
    assert line["sentence"] == sentence and line["action"] == "staff.role_changed"
    assert datetime.fromisoformat(line["occurred_at"]).tzinfo is not None


def test_the_exports_sentence_cache_says_what_sentence_for_says():
    from django.utils import translation

    from audit import registry

    events = [
        {"action": "staff.role_changed", "actor": "Ann", "target": "Bob",
         "changes": {"role": {"before": "member", "after": "readonly"}}},
        {"action": "workspace.policy_changed", "actor": "Ann", "changes": {"require_2fa": [0, 1]}},
        {"action": "user.profile_updated", "actor": "Ann", "changes": {"language": ["", "de"]}},
        {"action": "gone.action", "actor": "Ann", "target": "x"},
    ]  # fmt: skip
    for language in ("en", "de"):
        with translation.override(language):
            cache = registry.SentenceCache()
            for _ in range(2):  # the second time from the cache
                for event in events:
                    assert cache.sentence_for(**event) == registry.sentence_for(**event)
