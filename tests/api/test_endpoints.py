"""Every endpoint under the scope x role matrix: a token without the endpoint's scope
is refused whatever the role (403 insufficient-scope); with it, the user's role decides
exactly as on the pages (403 forbidden for the roles the page refuses)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Invitation
from tests.conftest import client_for

from .conftest import ALL_SCOPES, issue_token, make_user, register, stored_document

pytestmark = pytest.mark.django_db

ROLES = ["owner", "admin", "member", "readonly"]
ADMINS = {"owner", "admin"}
EVERYONE = set(ROLES)
WRITERS = {"owner", "admin", "member"}


@dataclass
class Case:
    name: str
    method: str
    path: str  # may name {member}, {invitation}, {document}, {deleted}
    scope: str | None
    allowed: set[str]
    ok: int = 200
    body: dict | None = None


CASES = [
    Case("me", "get", "/api/v1/me", None, EVERYONE),
    Case("workspace", "get", "/api/v1/workspace", "workspace:read", EVERYONE),
    Case("staff list", "get", "/api/v1/staff/", "staff:read", ADMINS),
    Case("staff detail", "get", "/api/v1/staff/{member}/", "staff:read", ADMINS),
    Case("staff role", "post", "/api/v1/staff/{member}/role", "staff:write", ADMINS,
         body={"role": "readonly"}),
    Case("staff deactivate", "post", "/api/v1/staff/{member}/deactivate", "staff:write", ADMINS),
    Case("staff reactivate", "post", "/api/v1/staff/{gone}/reactivate", "staff:write", ADMINS),
    Case("invitation list", "get", "/api/v1/invitations/", "staff:read", ADMINS),
    Case("invite", "post", "/api/v1/invitations/", "staff:write", ADMINS, ok=201,
         body={"emails": ["new1@alpha.test", "new2@alpha.test"], "role": "member"}),
    Case("resend", "post", "/api/v1/invitations/{invitation}/resend", "staff:write", ADMINS),
    Case("revoke", "post", "/api/v1/invitations/{invitation}/revoke", "staff:write", ADMINS),
    Case("documents", "get", "/api/v1/documents/", "documents:read", EVERYONE),
    Case("document", "get", "/api/v1/documents/{document}/", "documents:read", EVERYONE),
    Case("download", "get", "/api/v1/documents/{document}/download", "documents:read", EVERYONE),
    Case("rename", "patch", "/api/v1/documents/{document}/", "documents:write", ADMINS,
         body={"name": "renamed.txt"}),
    Case("delete", "delete", "/api/v1/documents/{document}/", "documents:write", ADMINS),
    Case("restore", "post", "/api/v1/documents/{deleted}/restore", "documents:write", ADMINS),
    Case("upload", "post", "/api/v1/documents/", "documents:write", WRITERS, ok=202),
    Case("audit events", "get", "/api/v1/audit-events/", "audit:read", ADMINS),
    Case("audit export", "get", "/api/v1/audit-events/export", "audit:read", ADMINS),
]  # fmt: skip


@pytest.fixture
def world(tenant_a, owner_a, team_plan, fs_storage):
    users = {role: make_user(tenant_a, f"{role}-m@alpha.test", role) for role in ROLES[1:]}
    users["owner"] = owner_a
    member = make_user(tenant_a, "target@alpha.test", "member")
    gone = make_user(tenant_a, "gone@alpha.test", "member")
    with schema_context(tenant_a.schema_name):
        gone.is_active = False
        gone.save(update_fields=["is_active"])
        invitation = Invitation.objects.create(
            email="invited@alpha.test", role="member", invited_by=owner_a,
            token_hash="x" * 64, expires_at=timezone.now() + timedelta(days=3),
        )  # fmt: skip
    document = stored_document(tenant_a, owner_a)
    deleted = stored_document(tenant_a, owner_a, name="old.txt")
    with schema_context(tenant_a.schema_name):
        deleted.state_before_delete = "available"
        deleted.state = "deleted"
        deleted.deleted_at = timezone.now()
        deleted.save()
    app = register(tenant_a, owner_a, grant="authorization-code")
    ids = {"member": member.pk, "gone": gone.pk, "invitation": invitation.pk,
           "document": document.pk, "deleted": deleted.pk}  # fmt: skip
    return users, app, ids


def _call(tenant, case: Case, token: str, ids: dict):
    client = client_for(tenant)
    path = case.path.format(**ids)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if case.name == "upload":
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("api.txt", b"uploaded through the API")
        return client.post(path, {"file": upload}, **auth)
    if case.body is not None:
        return getattr(client, case.method)(
            path, case.body, content_type="application/json", **auth
        )
    return getattr(client, case.method)(path, **auth)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_scope_and_role_must_both_allow(tenant_a, world, case, role):
    users, app, ids = world
    if case.scope:
        without = issue_token(
            tenant_a, app, users[role], [s for s in ALL_SCOPES if s != case.scope]
        )
        refused = _call(tenant_a, case, without, ids)
        assert refused.status_code == 403, refused.content
        assert refused.json()["type"] == "urn:atrium:problem:insufficient-scope"
    token = issue_token(tenant_a, app, users[role], ALL_SCOPES)
    response = _call(tenant_a, case, token, ids)
    if role in case.allowed:
        assert response.status_code == case.ok, (response.status_code, response.content[:300])
    else:
        assert response.status_code == 403, (response.status_code, response.content[:300])
        assert response.json()["type"] in {
            "urn:atrium:problem:forbidden", "urn:atrium:problem:read-only"
        }  # fmt: skip
