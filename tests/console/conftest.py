"""Vendor staff and console clients, signed in through the real sign-in (password, then
a TOTP code computed from the device's key)."""

import itertools

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from tests.conftest import PASSWORD

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
    def make(role: str = "viewer", **kwargs) -> tuple[User, Client]:
        user = make_vendor(role, **kwargs)
        client = console_client()
        sign_in_vendor(client, user)
        return user, client

    return make
