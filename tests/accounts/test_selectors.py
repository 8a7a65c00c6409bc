"""The reads other packages build on: who is mailed about a workspace, and the rows of
its people that an export carries (never vendor staff, never the deactivated for mail)."""

from django_tenants.utils import schema_context

from accounts import selectors

from .helpers import make_user

FIELDS = ("email", "role", "is_active")


def test_recipients_are_the_active_people_of_the_role_in_their_language(tenant_a, owner_a):
    make_user(tenant_a, "admin@alpha.test", role="admin", language="de")
    make_user(tenant_a, "gone@alpha.test", role="owner", is_active=False)
    make_user(tenant_a, "member@alpha.test", role="member")
    make_user(tenant_a, "vendor@alpha.test", role="owner", is_staff=True)
    with schema_context(tenant_a.schema_name):
        owners = selectors.owner_recipients()
        admins = selectors.admin_recipients()
    assert owners == [(owner_a.email, owner_a.language)]
    assert admins == [(owner_a.email, owner_a.language), ("admin@alpha.test", "de")]


def test_export_rows_are_the_workspace_people_oldest_first(tenant_a, owner_a):
    make_user(tenant_a, "gone@alpha.test", role="member", is_active=False)
    make_user(tenant_a, "vendor@alpha.test", role="owner", is_staff=True)
    with schema_context(tenant_a.schema_name):
        rows = list(selectors.people_rows(FIELDS))
        roles = selectors.role_choices()
    assert rows == [
        {"email": owner_a.email, "role": "owner", "is_active": True},
        {"email": "gone@alpha.test", "role": "member", "is_active": False},
    ]
    assert [value for value, _label in roles] == ["owner", "admin", "member", "readonly"]
