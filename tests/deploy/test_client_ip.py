"""core.middleware.client_ip: the forwarded header counts only from a trusted proxy."""

import pytest
from django.test import RequestFactory

from core.middleware import client_ip


@pytest.fixture(autouse=True)
def _proxies(settings):
    settings.AUDIT_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.AUDIT_TRUSTED_PROXIES = "127.0.0.1, 10.0.0.0/8"


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("198.51.100.9", "203.0.113.66", "198.51.100.9"),  # not a proxy: header ignored
        ("127.0.0.1", "203.0.113.66", "203.0.113.66"),
        ("127.0.0.1", "", "127.0.0.1"),
        # The nearest untrusted hop: what a client prepends is never believed.
        ("127.0.0.1", "203.0.113.66, 198.51.100.9, 10.1.2.3", "198.51.100.9"),
        ("127.0.0.1", "10.1.2.3, 10.4.5.6", "10.1.2.3"),
        ("127.0.0.1", "198.51.100.9, not-an-ip", "127.0.0.1"),
        ("10.9.9.9", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip(remote, forwarded, expected):
    meta = {"REMOTE_ADDR": remote}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(RequestFactory().get("/", **meta)) == expected


def test_axes_counts_the_same_address():
    from axes.helpers import get_client_ip_address

    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.5")
    assert get_client_ip_address(request) == "192.0.2.5"
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="192.0.2.5")
    assert get_client_ip_address(request) == "192.0.2.7"
