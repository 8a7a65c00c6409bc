"""Steps shared by the browser tests."""

from tests.conftest import PASSWORD


def watch(page, errors: list[str]) -> None:
    """Collect the page's console errors and uncaught exceptions into ``errors``."""
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))


def signed_in_page(browser, base: str, email: str, errors: list[str], **context_options):
    """A new browser context signed in as ``email`` (password only) on ``base``."""
    page = browser.new_context(**context_options).new_page()
    watch(page, errors)
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]:has-text('Sign in')")
    page.wait_for_url(f"{base}/")
    return page
