"""axe-core (WCAG 2.1 A/AA rules) on every main page, at 1280 and 375 px: no serious or
critical violation, no sideways scrolling on a phone. Screenshots of each page at both
widths go to var/screenshots/ (git-ignored) as artifacts."""

import json
import os
from pathlib import Path

import pytest
from django.conf import settings

from tests.accounts.live import committed_workspace, reset_staff
from tests.browser.helpers import signed_in_page, watch

pytestmark = pytest.mark.browser

AXE = Path(settings.BASE_DIR) / "var" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
WIDTHS = {"desktop": 1280, "phone": 375}
PUBLIC_PAGES = {
    "landing": "/",
    "signup": "/signup/",
    "find-workspace": "/find-workspace/",
    "pricing": "/pricing/",
}
WORKSPACE_PAGES = {
    "dashboard": "/",
    "staff": "/staff/",
    "invite": "/staff/invite/",
    "documents": "/documents/",
    "audit-log": "/audit/",
    "billing": "/settings/billing/",
    "profile": "/account/",
    "security": "/account/2fa/",
    "sessions": "/account/sessions/",
    "support-access": "/settings/support/",
    "not-found": "/no/such/page/",
}
RUN_AXE = """() => axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
}).then(r => r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
  .map(v => ({id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"""


@pytest.fixture
def axe_path() -> str:
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{AXE} is missing in CI: deploy/local/services.sh test-deps installs it")
        pytest.skip(f"{AXE} is missing (deploy/local/services.sh test-deps installs axe-core)")
    return str(AXE)


def with_axe(page, axe_path: str):
    """``page``, with axe-core loaded into every document its context opens from now on.

    One init script per context, not a script tag per page: Playwright then sends the
    half-megabyte script over its pipe once, not 32 times (a third of this test's time)."""
    page.context.add_init_script(path=axe_path)
    return page


def check(page, name: str, url: str, problems: list[str]) -> None:
    """Open ``url`` at each width: axe, sideways scrolling, a screenshot."""
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(url)
        for violation in page.evaluate(RUN_AXE):
            problems.append(f"{name} @{width}px: {json.dumps(violation)}")
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > width:
            problems.append(f"{name} @{width}px: {scroll_width}px wide")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)


def test_main_pages_are_accessible_and_fit_a_phone(
    transactional_db, live_base, chromium_browser, django_db_blocker, axe_path
):
    with django_db_blocker.unblock():
        tenant = committed_workspace("a11yco", "A11y Co")
        reset_staff(tenant)
    problems: list[str] = []
    errors: list[str] = []

    public = with_axe(chromium_browser.new_context().new_page(), axe_path)
    watch(public, errors)
    for name, path in PUBLIC_PAGES.items():
        check(public, name, f"http://localhost:{live_base}{path}", problems)

    base = f"http://{tenant.slug}.localhost:{live_base}"
    visitor = with_axe(chromium_browser.new_context().new_page(), axe_path)
    check(visitor, "sign-in", f"{base}/accounts/login/", problems)

    owner = signed_in_page(chromium_browser, base, f"owner@{tenant.slug}.test", errors)
    with_axe(owner, axe_path)
    for name, path in WORKSPACE_PAGES.items():
        check(owner, name, f"{base}{path}", problems)

    print(f"\nscreenshots: {SCREENSHOTS}")
    assert problems == [], "\n".join(problems)
