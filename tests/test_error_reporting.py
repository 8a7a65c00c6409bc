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
