"""The console's offboarding pages (public host) and who can reach them."""

from __future__ import annotations

import pytest

from offboarding.models import Deletion, Export
from tenants.models import Tenant
from tests.conftest import client_for, sign_in
from tests.console_session import console_client

from .conftest import OWNER


def page(tenant) -> str:
    return f"/console/offboarding/w/{tenant.pk}/"


def test_console_pages_need_a_verified_vendor(fs_storages, workspace, support_vendor):
    tenant = workspace["tenant"]
    anonymous = client_for(None).get(page(tenant))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/console/login/")
    # Without a verified second factor the console's gate (console.middleware) signs the
    # session out and sends it to the console's sign-in.
    unverified = console_client(support_vendor, verified=False).get(page(tenant))
    assert unverified.status_code == 302 and unverified["Location"].startswith("/console/login/")
    # A workspace user has no account on the public site; on their own host the console
    # URL does not exist.
    owner = client_for(tenant)
    assert sign_in(owner, OWNER)
    assert owner.get(page(tenant)).status_code == 404
    response = console_client(support_vendor).get(page(tenant))
    assert response.status_code == 200
    assert b"Export the workspace" in response.content


def test_console_actions_go_through_the_services_roles(
    fs_storages, workspace, support_vendor, admin_vendor, django_capture_on_commit_callbacks
):
    tenant = workspace["tenant"]
    support = console_client(support_vendor)
    assert support.post(f"{page(tenant)}export/", {"export-reason": ""}).status_code == 302
    assert not Export.objects.filter(tenant=tenant).exists()  # no reason, no export
    with django_capture_on_commit_callbacks(execute=True):
        support.post(f"{page(tenant)}export/", {"export-reason": "ticket 12"})
    export = Export.objects.get(tenant=tenant)
    assert export.status == Export.Status.DONE
    download = support.post(f"/console/offboarding/exports/{export.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:2] == b"PK"
    # Deleting needs the admin role: refused in the service even though the page is open.
    refused = support.post(
        f"{page(tenant)}delete/", {"schedule-reason": "r", "schedule-grace_days": "30"}
    )
    assert refused.status_code == 403
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.ACTIVE

    admin = console_client(admin_vendor)
    with django_capture_on_commit_callbacks(execute=True):
        done = admin.post(
            f"{page(tenant)}delete/", {"schedule-reason": "gone", "schedule-grace_days": "7"}
        )
    assert done.status_code == 302
    deletion = Deletion.objects.get(tenant=tenant)
    assert (deletion.purge_after - deletion.scheduled_at).days in (6, 7)
    assert b"Restore the workspace" in admin.get(page(tenant)).content
    admin.post(f"{page(tenant)}restore/", {"restore-reason": "came back"})
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.ACTIVE


@pytest.mark.parametrize("path", ["export/", "delete/", "restore/"])
def test_console_actions_refuse_get(fs_storages, workspace, admin_vendor, path):
    response = console_client(admin_vendor).get(page(workspace["tenant"]) + path)
    assert response.status_code == 405


def test_s3_downloads_redirect_to_a_presigned_link(s3_storages, workspace, support_vendor):
    from offboarding import services
    from offboarding.models import Export as ExportRow

    from .test_export import build

    tenant = workspace["tenant"]
    export = build(services.export_request(actor=support_vendor, tenant_id=tenant.pk, reason="r"))
    assert export.status == ExportRow.Status.DONE
    owner = client_for(tenant)
    assert sign_in(owner, OWNER)
    response = owner.post(f"/settings/exports/{export.pk}/download/")
    assert response.status_code == 302
    assert "X-Amz-Signature=" in response["Location"] and export.storage_key in response["Location"]
    console = console_client(support_vendor)
    response = console.post(f"/console/offboarding/exports/{export.pk}/download/")
    assert response.status_code == 302 and "X-Amz-Expires=300" in response["Location"]
