"""Error reports reach Sentry without secrets: events are captured by a test transport."""

import pytest
import sentry_sdk
from django.urls import path

from config.sentry import init_sentry
from tests.conftest import PASSWORD


class CapturingTransport(sentry_sdk.transport.Transport):
    """Keeps envelopes in memory instead of sending them over the network."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)


def explode(request):
    owner_password = request.POST.get("owner_password")  # noqa: F841 - a local Sentry would see
    raise RuntimeError("boom")


urlpatterns = [path("explode/", explode)]


@pytest.fixture
def sentry_events():
    transport = CapturingTransport()
    init_sentry(dsn="https://key@sentry.invalid/1", environment="test",
                traces_sample_rate=0.0, transport=transport)  # fmt: skip
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # back to a disabled client


def test_exception_is_reported_without_secrets(public_client, sentry_events, settings):
    settings.PUBLIC_SCHEMA_URLCONF = "tests.test_error_reporting"
    public_client.raise_request_exception = False
    public_client.cookies["atrium_session"] = "session-secret-value"
    response = public_client.post(
        "/explode/",
        {"owner_password": PASSWORD, "note": "hello"},
        HTTP_AUTHORIZATION="Bearer api-token-value",
    )
    assert response.status_code == 500
    sentry_sdk.flush()
    assert sentry_events.envelopes, "the error should have been reported"
    payload = b"".join(e.serialize() for e in sentry_events.envelopes)
    assert b"boom" in payload
    for secret in (PASSWORD.encode(), b"session-secret-value", b"api-token-value"):
        i = payload.find(secret)
        assert secret not in payload, payload[max(0, i - 300) : i + 50]


def test_failed_task_is_reported_without_its_arguments(sentry_events):
    from core.tasks import send_email

    link = "https://alpha.localhost/invite/one-time-token-value/"
    result = send_email.apply(
        kwargs={"to": "nina@alpha.test", "template": "no-such-template", "language": "en",
                "context": {"link": link}},
    )  # fmt: skip
    assert result.failed()
    sentry_sdk.flush()
    assert sentry_events.envelopes, "the failure should have been reported"
    payload = b"".join(e.serialize() for e in sentry_events.envelopes)
    assert b"TemplateDoesNotExist" in payload
    assert b"one-time-token-value" not in payload  # not in arguments, nor frame variables


def test_events_carry_workspace_request_id_and_release(
    tenant_a, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """A workspace request's error is tagged with the workspace and the request id the
    response (and the log line) carry; the release comes from SENTRY_RELEASE; the
    scrubbing stays."""
    monkeypatch.setenv("SENTRY_RELEASE", "atrium@test-release-1")
    transport = CapturingTransport()
    init_sentry(dsn="https://key@sentry.invalid/1", environment="test",
                traces_sample_rate=0.0, transport=transport)  # fmt: skip
    try:
        settings.ROOT_URLCONF = "tests.test_error_reporting"
        from tests.conftest import client_for

        client = client_for(tenant_a)
        client.raise_request_exception = False
        response = client.post("/explode/", {"owner_password": PASSWORD},
                               HTTP_X_REQUEST_ID="req-abc-123")  # fmt: skip
        assert response.status_code == 500
        sentry_sdk.flush()
        events = [
            item.payload.json
            for envelope in transport.envelopes
            for item in envelope.items
            if item.type == "event"
        ]
        [event] = events  # the exception; not also the request's log line
        assert event["exception"]["values"][0]["type"] == "RuntimeError"
        assert event["tags"]["workspace"] == tenant_a.schema_name
        assert event["tags"]["request_id"] == "req-abc-123"
        assert event["release"] == "atrium@test-release-1"
        payload = b"".join(e.serialize() for e in transport.envelopes)
        assert PASSWORD.encode() not in payload
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()


def test_task_events_carry_workspace_and_request_id(sentry_events):
    from core import context
    from uploads.tasks import scan_document

    with context.bind(request_id="req-task-456"):
        result = scan_document.apply(args=["t_no_such_schema", "not-a-uuid"])
    assert result.failed()
    sentry_sdk.flush()
    events = [
        item.payload.json
        for envelope in sentry_events.envelopes
        for item in envelope.items
        if item.type == "event"
    ]
    assert events
    assert events[-1]["tags"]["workspace"] == "t_no_such_schema"
    assert events[-1]["tags"]["request_id"] == "req-task-456"
