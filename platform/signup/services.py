"""Signup and provisioning: one atomic service call from the form to a ready workspace.

Every step runs in one transaction. PostgreSQL DDL is transactional, so a
failure at any step (schema, domain, owner) rolls back the schema rename or
creation together with the rows: nothing half-made remains, and a claimed
spare schema returns to the pool.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

import accounts.services
import billing.services
import tenants.services
from billing.selectors import default_plan
from core.principal import Principal, write_service
from tenants.selectors import Tenant, slug_taken, validate_slug, workspace_url

__all__ = ["ProvisionedWorkspace", "signup_validate", "tenant_provision", "workspace_create"]


@dataclass(frozen=True)
class ProvisionedWorkspace:
    tenant: Tenant
    owner_id: int
    url: str
    # "pool" when a spare schema was renamed, "migrate" when the pool was empty.
    path: str


def _create_owner(actor: Principal, tenant: Tenant, email: str, name: str, password_hash: str):
    with schema_context(tenant.schema_name):
        return accounts.services.owner_create(
            actor=actor, email=email, full_name=name, password_hash=password_hash
        )


def signup_validate(
    *, name: str, slug: str, owner_email: str, owner_password: str, owner_name: str = ""
) -> None:
    """Raise a ValidationError mapping each bad field to its messages."""
    errors: dict[str, list[str]] = {}

    def add(field: str, error: ValidationError) -> None:
        errors.setdefault(field, []).extend(error.messages)

    if not name.strip():
        add("name", ValidationError(_("Please enter your company name.")))
    try:
        validate_slug(slug)
    except ValidationError as error:
        add("slug", error)
    else:
        if slug_taken(slug):
            add("slug", ValidationError(_("This address is already taken.")))
    try:
        validate_email(owner_email)
    except ValidationError as error:
        add("owner_email", error)
    user_model = get_user_model()
    try:
        validate_password(owner_password, user=user_model(email=owner_email, full_name=owner_name))
    except ValidationError as error:
        add("owner_password", error)
    if errors:
        raise ValidationError(errors)


@write_service
def tenant_provision(
    *,
    actor: Principal,
    name: str,
    slug: str,
    owner_email: str,
    owner_password: str,
    owner_name: str = "",
) -> ProvisionedWorkspace:
    """Validate, then create a ready workspace with its owner. The use case behind signup
    (``actor``: the visitor) and ``provision_tenant`` (the system)."""
    slug = slug.strip().lower()
    owner_email = owner_email.strip().lower()
    signup_validate(
        name=name, slug=slug, owner_email=owner_email,
        owner_password=owner_password, owner_name=owner_name,
    )  # fmt: skip
    # Hashed before the transaction: slow on purpose, and no reason to hold locks meanwhile.
    return workspace_create(
        actor=actor, name=name.strip(), slug=slug, owner_email=owner_email,
        owner_name=owner_name.strip(), owner_password_hash=make_password(owner_password),
    )  # fmt: skip


@write_service
def workspace_create(
    *,
    actor: Principal,
    name: str,
    slug: str,
    owner_email: str,
    owner_name: str,
    owner_password_hash: str,
) -> ProvisionedWorkspace:
    """Tenant row, schema, domain and owner in one transaction (inputs already valid, the
    password already hashed): the fast path behind ``tenant_provision``, and what the
    benchmarks time."""
    with transaction.atomic():
        tenant = tenants.services.tenant_create(
            actor=actor, name=name, slug=slug, owner_email=owner_email, plan=default_plan()
        )
        owner = _create_owner(actor, tenant, owner_email, owner_name, owner_password_hash)
        # Every new workspace starts on billing's trial (BILLING_TRIAL_DAYS).
        billing.services.account_ensure(tenant_id=tenant.pk)
        # The new owner is the actor of ``tenant.created``: they signed up.
        tenants.services.tenant_mark_ready(
            actor=owner,
            tenant=tenant,
            changes={
                "name": name,
                "slug": slug,
                "owner_email": owner_email,
                "via": tenant.via,
                # Who really made it: the visitor signing up, or an operator's command.
                "by": actor.audit_actor.display,
            },
        )
    return ProvisionedWorkspace(
        tenant=tenant, owner_id=owner.pk, url=workspace_url(slug), path=tenant.via
    )
