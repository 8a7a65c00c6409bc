"""A read-only workspace's pages offer no dead buttons: what the services would refuse
is not offered; what stays allowed (deactivating, billing) still is."""

import pytest

from core.principal import SYSTEM
from tenants.services import tenant_restrict
from tests.accounts.helpers import make_user


@pytest.mark.django_db(transaction=True)
def test_pages_of_a_read_only_workspace_offer_no_dead_buttons(tenant_a, owner_client_a):
    member = make_user(tenant_a, "member@alpha.test")
    before = {
        "staff": owner_client_a.get("/staff/").content.decode(),
        "documents": owner_client_a.get("/documents/").content.decode(),
        "security": owner_client_a.get("/settings/security/").content.decode(),
    }
    assert "/staff/invite/" in before["staff"] and 'id="upload-form"' in before["documents"]
    assert 'method="post"' in before["security"]

    tenant_restrict(actor=SYSTEM, tenant_id=tenant_a.pk, reason="payment_overdue")
    staff = owner_client_a.get("/staff/").content.decode()
    documents = owner_client_a.get("/documents/").content.decode()
    security = owner_client_a.get("/settings/security/").content.decode()
    detail = owner_client_a.get(f"/staff/{member.pk}/").content.decode()
    assert "/staff/invite/" not in staff
    assert 'id="upload-form"' not in documents and "read-only-note" not in documents
    assert 'method="post"' not in security.split("<main>")[1].split("</main>")[0]
    assert "Change role" not in detail and "/deactivate/" in detail  # still allowed
    # Owners can always reach billing to fix the payment.
    assert owner_client_a.get("/settings/billing/").status_code == 200
    assert "payment is overdue" in staff
