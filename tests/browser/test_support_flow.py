"""In a real browser: the owner consents → a vendor starts a support session in the console
→ the hand-off lands on the workspace with the banner → a write is refused (read-only) →
the vendor ends it from the banner; the owner sees it ended. No JS errors."""

import pytest
from django_tenants.utils import schema_context

from accounts.models import User
from support.models import SupportPolicy, SupportSession
from tests.accounts.live import committed_workspace, reset_staff
from tests.browser.helpers import signed_in_page, watch
from tests.browser.test_accessibility import AXE, check, with_axe
from tests.conftest import PASSWORD
from tests.console_session import console_session_key

pytestmark = pytest.mark.browser

VENDOR = "agent@vendor-browser.test"


def _vendor_session_key() -> str:
    """A signed-in console session for the vendor (the console's own sign-in, with its
    second factor, is another package's and has its own tests)."""
    with schema_context("public"):
        vendor = User.objects.filter(email=VENDOR).first() or User.objects.create_user(
            email=VENDOR, password=PASSWORD, is_staff=True, vendor_role="support"
        )
        return console_session_key(vendor)


def _reset(tenant) -> None:
    with schema_context("public"):
        SupportSession.objects.filter(tenant=tenant).delete()
        SupportPolicy.objects.filter(tenant=tenant).delete()
    reset_staff(tenant)


def test_consent_start_banner_blocked_write_end(
    live_base, chromium_browser, django_db_blocker, settings
):
    settings.SITE_PORT = str(live_base)  # the console links to the workspace on this port
    with django_db_blocker.unblock():
        tenant = committed_workspace("supportco", "Support Co")
        _reset(tenant)
        key = _vendor_session_key()
    base = f"http://{tenant.slug}.localhost:{live_base}"
    console = f"http://localhost:{live_base}/console/support"
    owner_email = f"owner@{tenant.slug}.test"
    errors: list[str] = []

    # The owner allows read-only support access
    owner = signed_in_page(chromium_browser, base, owner_email, errors)
    owner.goto(f"{base}/settings/support/")
    owner.check("input[name=mode][value=read_only]")
    owner.click("#consent button[type=submit]")
    owner.wait_for_url(f"{base}/settings/support/")
    assert owner.is_checked("input[name=mode][value=read_only]")

    # The vendor starts a session as the owner, read-only by default
    context = chromium_browser.new_context()
    context.add_cookies(
        [{"name": "atrium_session", "value": key, "url": f"http://localhost:{live_base}/"}]
    )
    vendor = context.new_page()
    watch(vendor, errors)
    vendor.goto(f"{console}/")
    vendor.fill("#workspace", tenant.slug)
    vendor.click("main form button[type=submit]")
    assert "Read-only" in vendor.inner_text("#consent-state")
    vendor.select_option("select[name=user]", label=f"Support Co Owner <{owner_email}> (Owner)")
    vendor.fill("textarea[name=reason]", "Customer cannot find last week's upload")
    vendor.fill("input[name=ticket]", "SUP-77")
    assert vendor.is_checked("input[name=mode][value=read_only]")
    vendor.click("#start button[type=submit]")
    vendor.wait_for_selector("#open-workspace")

    # The hand-off: the console's page posts the token to the workspace by itself
    vendor.click("#open-workspace")
    vendor.wait_for_url(f"{base}/")
    banner = vendor.inner_text("#support-banner")
    assert VENDOR in banner and owner_email in banner and "SUP-77" in banner
    assert "Read-only" in banner and "Ends at" in banner
    if AXE.exists():  # the banner passes axe and fits a phone (test_accessibility's check)
        problems: list[str] = []
        check(with_axe(vendor, str(AXE)), "support-session", f"{base}/documents/", problems)
        assert problems == []
        vendor.set_viewport_size({"width": 1280, "height": 900})

    # A write is refused
    vendor.goto(f"{base}/settings/security/")
    vendor.check("input[name=require_2fa]")
    vendor.click("main form button[type=submit]")
    assert "read-only" in vendor.inner_text("main")
    with django_db_blocker.unblock(), schema_context(tenant.schema_name):
        from accounts.models import WorkspacePolicy

        assert not WorkspacePolicy.objects.get().require_2fa

    # End now, from the banner
    vendor.goto(f"{base}/documents/")
    vendor.click("#support-end")
    vendor.wait_for_url(f"{base}/support/ended/?cause=vendor")
    assert "ended by the vendor" in vendor.inner_text("#end-cause")
    vendor.goto(f"{base}/")
    assert "/accounts/login/" in vendor.url

    # The owner sees it, ended
    owner.goto(f"{base}/settings/support/")
    assert "ended by the vendor" in owner.inner_text("#support-sessions")

    # The one error: Chromium logs the refused write's 403 page load.
    assert errors == [
        "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    ]
    with django_db_blocker.unblock():
        _reset(tenant)
