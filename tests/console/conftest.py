"""Vendor staff and console clients: anonymous (``console_client``), signed in through the
real sign-in (password, then a TOTP code computed from the device's key), or handed the
suite's shared console session (``vendor_factory``)."""

import itertools

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from tests.conftest import PASSWORD
from tests.console_session import console_client as signed_in_console

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _clean_default_cache():
    """Rate-limit counters live in Redis, which the database rollback does not reset."""
    caches["default"].clear()
    yield
    caches["default"].clear()


def code_for(device: TOTPDevice, offset: int = 0) -> str:
    """The device's current code (``offset`` steps away)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, drift=offset):06d}"


def make_vendor(role: str, *, two_factor: bool = True, email: str = "") -> User:
    email = email or f"{role}{next(_numbers)}@vendor.test"
    user = User.objects.create_user(email, PASSWORD, is_staff=True, vendor_role=role)
    if two_factor:
        TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    return user


def console_client() -> Client:
    return Client(HTTP_HOST=settings.BASE_DOMAIN)


def sign_in_vendor(client: Client, user: User) -> None:
    response = client.post("/console/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/console/login/verify/"
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    response = client.post("/console/login/verify/", {"code": code_for(device)})
    assert response.status_code == 302 and response["Location"] == "/console/", response


@pytest.fixture
def vendor_factory(db):
    """A vendor with ``role`` and a console client signed in as them: by the suite's
    shared console session (tests/console_session.py, no requests), or with
    ``real_sign_in`` through the sign-in pages, for tests of what the sign-in leaves."""

    def make(role: str = "viewer", *, real_sign_in: bool = False, **kwargs) -> tuple[User, Client]:
        user = make_vendor(role, **kwargs)
        if real_sign_in:
            client = console_client()
            sign_in_vendor(client, user)
        else:
            client = signed_in_console(user)
        return user, client

    return make
