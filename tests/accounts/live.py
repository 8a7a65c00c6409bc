"""Committed test data for tests that cross threads (a live server, concurrent services).

pytest-django's ``transactional_db`` (and so its ``live_server``) empties every public
table after the test, which would delete the session's tenants and plans. These tests
instead work in a workspace of their own whose rows are committed, with database
access unblocked for the duration of the test.
"""

from django_tenants.utils import schema_context

from core.principal import SYSTEM
from signup.services import tenant_provision
from tenants.models import Tenant
from tests.conftest import PASSWORD


def committed_workspace(slug: str, name: str) -> Tenant:
    """A workspace created (once per test database) outside any test transaction."""
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        tenant_provision(
            actor=SYSTEM,
            slug=slug, name=name, owner_email=f"owner@{slug}.test",
            owner_password=PASSWORD, owner_name=f"{name} Owner",
        )  # fmt: skip
        tenant = Tenant.objects.get(slug=slug)
    return tenant


def reset_staff(tenant: Tenant) -> None:
    """Back to the provisioned owner alone, with no invitations, sessions or devices."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session

    from accounts.models import Invitation, WorkspacePolicy

    with schema_context(tenant.schema_name):
        owner_email = f"owner@{tenant.slug}.test"
        get_user_model().objects.exclude(email=owner_email).delete()
        get_user_model().objects.filter(email=owner_email).update(role="owner", is_active=True)
        Invitation.objects.all().delete()
        Session.objects.all().delete()
        WorkspacePolicy.objects.update(require_2fa=False)
