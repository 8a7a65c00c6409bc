"""In a real browser: invite -> accept -> sign in with 2FA -> deactivate, with no JS errors."""

import base64
import re

import pytest
from django.core import mail
from django_otp.oath import totp

from tests.accounts.live import committed_workspace, reset_staff
from tests.browser.helpers import signed_in_page, watch

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Brand-new-secret-77"


def code_for(secret: str, drift: int = 0) -> str:
    key = base64.b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    return f"{totp(key, drift=drift):06d}"


def test_invite_accept_two_factor_sign_in_and_deactivate(
    live_base, chromium_browser, django_db_blocker
):
    with django_db_blocker.unblock():
        tenant = committed_workspace("browserco", "Browser Co")
        reset_staff(tenant)
    base = f"http://{tenant.slug}.localhost:{live_base}"
    errors: list[str] = []

    admin = signed_in_page(chromium_browser, base, f"owner@{tenant.slug}.test", errors)

    # Invite
    mail.outbox.clear()
    admin.goto(f"{base}/staff/invite/")
    admin.fill("textarea[name=emails]", "newbie@browser.test")
    admin.select_option("select[name=role]", "member")
    admin.click("main button[type=submit]")
    admin.wait_for_url(f"{base}/staff/")
    assert "newbie@browser.test" in admin.inner_text("#invitations")
    [message] = [m for m in mail.outbox if "newbie@browser.test" in m.to]
    path = re.search(r"https?://[^/\s]+(/invite/\S+)", message.body).group(1)

    # Accept: the invitee lands signed in
    invitee = chromium_browser.new_context().new_page()
    watch(invitee, errors)
    invitee.goto(base + path)
    invitee.fill("input[name=full_name]", "Nina Newbie")
    invitee.fill("input[name=password1]", NEW_PASSWORD)
    invitee.fill("input[name=password2]", NEW_PASSWORD)
    invitee.click("main button[type=submit]")
    invitee.wait_for_url(f"{base}/")
    assert "Nina Newbie" in invitee.inner_text("main")

    # Turn on 2FA
    invitee.goto(f"{base}/account/2fa/setup/")
    assert invitee.locator(".qr svg").count() == 1
    secret = invitee.inner_text("#totp-secret")
    invitee.fill("input[name=code]", code_for(secret))
    invitee.click("main button[type=submit]")
    invitee.wait_for_url(f"{base}/account/2fa/")
    assert invitee.locator("#recovery-codes li").count() == 10

    # Sign out, sign in again: password, then the code
    invitee.click("nav button:has-text('Sign out')")
    invitee.goto(f"{base}/accounts/login/")
    invitee.fill("input[name=username]", "newbie@browser.test")
    invitee.fill("input[name=password]", NEW_PASSWORD)
    invitee.click("main button[type=submit]")
    invitee.wait_for_url(f"{base}/accounts/login/verify/")
    invitee.fill("input[name=code]", code_for(secret, drift=1))
    invitee.click("main button[type=submit]")
    invitee.wait_for_url(f"{base}/")
    assert "Nina Newbie" in invitee.inner_text("main")

    # The admin deactivates them: their open session ends at once
    admin.goto(f"{base}/staff/")
    admin.click("#staff a:has-text('Nina Newbie')")
    admin.click("#deactivate")
    # A destructive action asks first, in the page's dialog.
    admin.wait_for_selector("#confirm-dialog[open]")
    assert admin.inner_text("#confirm-text").startswith("Deactivate ")
    admin.click("#confirm-dialog button[value=confirm]")
    admin.wait_for_selector("#status:has-text('Deactivated')")
    invitee.goto(f"{base}/account/")
    assert "/accounts/login/" in invitee.url

    assert errors == []
    with django_db_blocker.unblock():
        reset_staff(tenant)
