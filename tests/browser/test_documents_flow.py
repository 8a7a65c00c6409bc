"""In a real browser: the documents page uploads several files with progress, takes a
dropped file, refuses an oversize one before sending it, shows a blocked file to the
admin, follows a waiting scan to its end, and downloads, with no JS errors."""

import pytest
from django_tenants.utils import schema_context

from tests.accounts.live import committed_workspace, reset_staff
from tests.browser.helpers import signed_in_page
from tests.servers import CLAMD_STREAM_MAX
from tests.uploads.conftest import (  # noqa: F401 (fixtures: the scanner settings, filesystem storage)
    EICAR,
    _scanner_settings,
    fs_storage,
)
from uploads.models import Document

pytestmark = pytest.mark.browser

REPORT = b"Quarterly figures, all clean.\n" * 2000


def test_upload_drop_block_wait_and_download(
    live_base,
    chromium_browser,
    django_db_blocker,
    fs_storage,  # noqa: F811 (the fixture imported above)
    tmp_path,
):
    with django_db_blocker.unblock():
        tenant = committed_workspace("docsco", "Docs Co")
        reset_staff(tenant)
        with schema_context(tenant.schema_name):
            Document.objects.all().delete()
    base = f"http://{tenant.slug}.localhost:{live_base}"
    errors: list[str] = []
    owner = f"owner@{tenant.slug}.test"
    page = signed_in_page(chromium_browser, base, owner, errors, accept_downloads=True)
    page.goto(f"{base}/documents/")

    # Several files at once: a progress row each, then the page shows their scans.
    (tmp_path / "report.txt").write_bytes(REPORT)
    (tmp_path / "invoice.pdf").write_bytes(EICAR)  # a misleading name
    page.set_input_files("#id_files", [tmp_path / "report.txt", tmp_path / "invoice.pdf"])
    page.click("#upload-form button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#upload-progress li').length === 2")
    page.wait_for_selector("tr[data-state=available]:has-text('report.txt')")
    report_row = page.locator("tr:has-text('report.txt')")
    assert "Available" in report_row.inner_text()
    blocked_row = page.locator("tr:has-text('invoice.pdf')")
    assert "Blocked" in blocked_row.inner_text()
    assert "EICAR" in blocked_row.inner_text()
    assert blocked_row.locator("a").count() == 0  # never a link to a blocked file
    assert "invoice.pdf" in page.inner_text(".notice-blocked")

    # Drag and drop.
    transfer = page.evaluate_handle(
        """() => { const dt = new DataTransfer();
                   dt.items.add(new File(['dropped notes'], 'dropped.txt', {type: 'text/plain'}));
                   return dt; }"""
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
    page.wait_for_selector("tr[data-state=available]:has-text('dropped.txt')")

    # Over the per-file limit: refused in the page, nothing is sent.
    page.evaluate(
        """(size) => { const dt = new DataTransfer();
                       dt.items.add(new File([new Uint8Array(size)], 'huge.bin'));
                       document.getElementById('drop-zone').dispatchEvent(
                         new DragEvent('drop', {dataTransfer: dt, bubbles: true})); }""",
        CLAMD_STREAM_MAX + 1,
    )
    refused = page.locator("#upload-progress li.error:has-text('huge.bin')")
    refused.wait_for()
    assert "larger than the per-file limit" in refused.inner_text()
    with django_db_blocker.unblock(), schema_context(tenant.schema_name):
        assert not Document.objects.filter(name="huge.bin").exists()

    # A document still waiting for its scan: the page follows it until it is done.
    with django_db_blocker.unblock(), schema_context(tenant.schema_name):
        waiting = Document.objects.create(
            name="waiting.txt", size=5, content_type="text/plain", sha256="0" * 64
        )
    page.goto(f"{base}/documents/")
    assert "Waiting for scan" in page.locator("tr:has-text('waiting.txt')").inner_text()
    with django_db_blocker.unblock(), schema_context(tenant.schema_name):
        Document.objects.filter(pk=waiting.pk).update(state=Document.State.BLOCKED)
    page.wait_for_selector("tr[data-state=blocked]:has-text('waiting.txt')", timeout=15_000)

    # Download the clean report.
    with page.expect_download() as download:
        page.locator("tr:has-text('report.txt') a.button").click()
    assert download.value.suggested_filename == "report.txt"
    assert download.value.path().read_bytes() == REPORT
    assert errors == []
