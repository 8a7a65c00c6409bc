"""Billing tests run against the real Stripe emulator (localstripe), started by
deploy/local/services.sh (``make test``) on 127.0.0.1:STRIPE_EMULATOR_PORT."""

import urllib.request

import pytest
from django.conf import settings
from django.core.cache import caches

from billing import services
from core.principal import SYSTEM


@pytest.fixture(scope="session")
def stripe_emulator() -> str:
    url = settings.STRIPE_API_BASE
    try:
        urllib.request.urlopen(f"{url}/js.stripe.com/v3/", timeout=2)  # noqa: S310 - loopback
    except OSError as error:  # pragma: no cover - a setup problem, said plainly
        pytest.fail(
            f"the Stripe emulator does not answer at {url} ({error}): "
            "`make services` (deploy/local/services.sh) starts it"
        )
    return url


@pytest.fixture
def plans(db, stripe_emulator):
    """The public plans' prices, synced to the emulator (idempotent)."""
    services.plans_sync(actor=SYSTEM)


@pytest.fixture(autouse=True)
def _clean_default_cache():
    caches["default"].clear()
    yield
    caches["default"].clear()
