"""One JSON line per request and per task, with its context, and no secret in any line.

The flow signs up a workspace, invites someone who accepts, resets a password and
uploads a document (scanned by the real clamd), capturing every log line with the
production formatter and filter; then greps each line for every secret used.
"""

import io
import json
import logging
import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import include, path

from config.logs import JsonFormatter, RedactRequestPaths
from tests.conftest import client_for

OWNER_PASSWORD = "Owner-Secret-Pass-4711"
INVITEE_PASSWORD = "Invitee-Secret-Pass-4712"
RESET_PASSWORD = "Reset-Secret-Pass-4713"
DOCUMENT = b"%PDF-1.4\n% document-body-secret-4714\n" + b"0123456789" * 200


@pytest.fixture
def log_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactRequestPaths())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: stream.getvalue().splitlines()
    finally:
        root.removeHandler(handler)


def link(message, prefix: str) -> str:
    match = re.search(r"https?://[^/\s]+(" + re.escape(prefix) + r"[^\s]*)", message.body)
    assert match, message.body
    return match.group(0)


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


@pytest.mark.django_db
def test_flow_logs_one_json_line_per_request_and_task_without_secrets(
    log_lines, django_capture_on_commit_callbacks
):
    secrets = [OWNER_PASSWORD, INVITEE_PASSWORD, RESET_PASSWORD, "document-body-secret-4714"]
    with django_capture_on_commit_callbacks(execute=True):
        signup = client_for(None).post("/signup/", {
            "name": "Logging GmbH", "slug": "logging", "owner_name": "Lou Logging",
            "owner_email": "lou@logging.test", "owner_password": OWNER_PASSWORD,
        })  # fmt: skip
    assert signup.status_code == 302
    handoff = signup["Location"]
    secrets += [handoff, handoff.rstrip("/").rsplit("/", 1)[1]]

    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug="logging")
    owner = client_for(tenant)
    assert owner.get(path_of(handoff), follow=True).status_code == 200
    secrets.append(owner.cookies["atrium_session"].value)

    # Invitation: sent, opened, accepted.
    with django_capture_on_commit_callbacks(execute=True):
        owner.post("/staff/invite/", {"emails": "ivy@example.com", "role": "member"})
    invitation = link(mail.outbox[-1], "/invite/")
    secrets += [invitation, path_of(invitation).split("/")[2]]
    visitor = client_for(tenant)
    assert visitor.get(path_of(invitation)).status_code == 200
    accepted = visitor.post(path_of(invitation), {"full_name": "Ivy", "password1": INVITEE_PASSWORD,
                                                  "password2": INVITEE_PASSWORD})  # fmt: skip
    assert accepted.status_code == 302

    # Password reset: requested, link followed, new password set.
    stranger = client_for(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        stranger.post("/accounts/password-reset/", {"email": "ivy@example.com"})
    reset = link(mail.outbox[-1], "/accounts/reset/")
    secrets += [reset, *path_of(reset).strip("/").split("/")[2:4]]
    form = stranger.get(path_of(reset), follow=True)
    set_url = form.redirect_chain[-1][0]
    done = stranger.post(set_url, {"new_password1": RESET_PASSWORD,
                                   "new_password2": RESET_PASSWORD})  # fmt: skip
    assert done.status_code == 302

    # Upload, scanned by clamd in the (eager) task after commit.
    with django_capture_on_commit_callbacks(execute=True):
        uploaded = owner.post(
            "/documents/upload/",
            {"files": SimpleUploadedFile("report.pdf", DOCUMENT, "application/pdf")},
            HTTP_ACCEPT="application/json",
        )
    assert uploaded.status_code == 200, uploaded.content

    lines = log_lines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for line in lines:
        for secret in secrets:
            assert secret not in line, (secret, line)

    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record), record
    requests = [r for r in records if r["logger"] == "atrium.request"]
    assert len(requests) >= 10
    for r in requests:
        assert {"request_id", "workspace", "actor", "method", "path", "status",
                "duration_ms"} <= set(r), r  # fmt: skip
        assert r["request_id"] and "?" not in r["path"]
    signup_line = next(r for r in requests if r["path"] == "/signup/")
    assert (signup_line["method"], signup_line["status"]) == ("POST", 302)
    invite_line = next(r for r in requests if r["path"] == "/staff/invite/")
    assert invite_line["workspace"] == tenant.schema_name
    assert re.fullmatch(r"user:\d+", invite_line["actor"])
    assert any(r["path"] == "/invite/<masked>/" for r in requests)
    assert any(r["path"].startswith("/accounts/reset/<masked>/") for r in requests)

    tasks = [r for r in records if r["logger"] == "atrium.task"]
    scan = next(r for r in tasks if r["task"] == "uploads.tasks.scan_document")
    assert scan["outcome"] == "success" and scan["workspace"] == tenant.schema_name
    assert scan["request_id"] and scan["actor"]
    emails = [r for r in tasks if r["task"] == "core.tasks.send_email"]
    assert emails and all(r["outcome"] == "success" for r in emails)


@pytest.mark.django_db
def test_django_not_found_line_masks_the_token(log_lines, tenant_a):
    token = "Zm9vYmFyLXNlY3JldC10b2tlbi12YWx1ZQ"
    client_for(tenant_a).get(f"/invite/{token}/extra/")
    lines = log_lines()
    assert lines and all(token not in line for line in lines), lines
    assert any('"/invite/<masked>/extra/"' in line for line in lines)


def chatty(request):
    request.user.is_authenticated  # noqa: B018 - the view looks at its user
    logging.getLogger("tests.chatty").warning("inside the view")
    from django.http import HttpResponse

    return HttpResponse("ok")


urlpatterns = [path("chatty/", chatty), path("", include("config.urls_tenant"))]


@pytest.mark.django_db
def test_a_line_logged_inside_a_view_carries_the_request_context(
    log_lines, owner_client_a, owner_a, tenant_a, settings
):
    settings.ROOT_URLCONF = "tests.ops.test_logs"
    assert owner_client_a.get("/chatty/").status_code == 200
    records = [json.loads(line) for line in log_lines()]
    inside = next(r for r in records if r["logger"] == "tests.chatty")
    request = next(r for r in records if r["logger"] == "atrium.request"
                   and r["path"] == "/chatty/")  # fmt: skip
    assert inside["workspace"] == request["workspace"] == tenant_a.schema_name
    assert inside["actor"] == request["actor"] == f"user:{owner_a.pk}"
    assert inside["request_id"] == request["request_id"]
