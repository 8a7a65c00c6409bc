"""In a real browser: the home page after sign-in, finding documents (search, sort,
pages, a scan finishing in place without a reload) and reading the audit trail
(sentences, grouped filter, details one click away, fits 1280 px), with no JS errors."""

import pytest
from django_tenants.utils import schema_context

import audit.services as audit
from accounts.models import User
from tests.accounts.live import committed_workspace, reset_staff
from tests.browser.helpers import signed_in_page
from uploads.models import Document

pytestmark = pytest.mark.browser

State = Document.State


def _fresh_workspace(django_db_blocker):
    with django_db_blocker.unblock():
        tenant = committed_workspace("pagesco", "Pages Co")
        reset_staff(tenant)
        with schema_context(tenant.schema_name):
            Document.objects.all().delete()
            owner = User.objects.get(email=f"owner@{tenant.slug}.test")
            for i in range(27):
                Document.objects.create(
                    name=f"memo {i:02}.txt", size=100 + i, content_type="text/plain",
                    sha256="0" * 64, state=State.AVAILABLE, uploaded_by=owner,
                )  # fmt: skip
            for name in ("Q3 report.pdf", 'Annual "final" report.pdf'):
                Document.objects.create(
                    name=name, size=5000, content_type="application/pdf", sha256="0" * 64,
                    state=State.AVAILABLE, uploaded_by=owner,
                )  # fmt: skip
            scanning = Document.objects.create(
                name="scanning report.pdf", size=10, content_type="application/pdf",
                sha256="0" * 64, state=State.SCANNING, uploaded_by=owner,
            )  # fmt: skip
            bob = User.objects.create_user(
                email="bob@pagesco.test", password="x-Long-enough-1", full_name="Bob Builder"
            )
            audit.record(
                "staff.role_changed", actor=owner, target=bob,
                changes={"role": {"before": "member", "after": "readonly"}},
            )  # fmt: skip
    return tenant, scanning


def test_dashboard_documents_and_audit_trail(live_base, chromium_browser, django_db_blocker):
    tenant, scanning = _fresh_workspace(django_db_blocker)
    base = f"http://{tenant.slug}.localhost:{live_base}"
    errors: list[str] = []
    page = signed_in_page(
        chromium_browser, base, f"owner@{tenant.slug}.test", errors,
        viewport={"width": 1280, "height": 900},
    )  # fmt: skip

    # Home: the admin's overview, the current page marked in the navigation.
    assert page.inner_text("nav [aria-current=page]") == "Home"
    assert page.inner_text("#seats").startswith("2 of ")
    assert "1 document is waiting for its scan." in page.inner_text("#scans")
    assert "Bob Builder" in page.inner_text("#without-2fa")
    activity = page.inner_text("#activity")
    assert "changed Bob Builder's role from Member to Read-only" in activity
    assert "signed in" in activity

    # Documents: search by name, the name kept as written.
    page.click("nav >> text=Documents")
    page.fill("#doc-search", "report")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url("**/documents/?q=report*")
    names = page.locator("#documents td.name").all_inner_texts()
    assert sorted(n.splitlines()[0] for n in names) == [
        'Annual "final" report.pdf', "Q3 report.pdf", "scanning report.pdf",
    ]  # fmt: skip

    # The scan finishes while the page is open: the row changes in place, no reload.
    page.evaluate("window.__stillHere = true")
    row = page.locator(f"tr[data-document-id='{scanning.id}']")
    assert "Scanning" in row.inner_text()
    with django_db_blocker.unblock(), schema_context(tenant.schema_name):
        Document.objects.filter(pk=scanning.pk).update(state=State.AVAILABLE)
    page.wait_for_selector(f"tr[data-document-id='{scanning.id}'][data-state=available]")
    assert "Available" in row.inner_text()
    assert row.locator("a.button:has-text('Download')").count() == 1
    assert page.evaluate("window.__stillHere") is True

    # Sorting by a column header, then the next page.
    page.goto(f"{base}/documents/")
    page.click("#documents th >> text=Name")
    page.wait_for_url("**sort=name*")
    first = page.locator("#documents td.name").first.inner_text()
    assert first.startswith('Annual "final" report.pdf')
    assert page.inner_text(".pagination").count("Page 1 of 2") == 1
    page.click(".pagination >> text=Next")
    page.wait_for_url("**page=2*")
    assert page.locator("#documents tbody tr").count() == 30 - 25

    # The audit trail: sentences, a grouped filter, details one click away.
    page.click("nav >> text=Audit log")
    page.wait_for_url(f"{base}/audit/")
    assert page.locator("select[name=action] optgroup[label=staff]").count() == 1
    role_row = page.locator("table.audit tr:has-text('Read-only')")
    assert "changed Bob Builder's role from Member to Read-only" in role_row.inner_text()
    assert not role_row.locator("dl.event").is_visible()
    role_row.locator("summary").click()
    assert role_row.locator("dl.event").is_visible()
    assert "staff.role_changed" in role_row.locator("dl.event").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    page.select_option("select[name=action]", "auth")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**action=auth*")
    sentences = page.locator("table.audit td.sentence").all_inner_texts()
    assert sentences and all("signed in" in s for s in sentences)
    assert errors == []
