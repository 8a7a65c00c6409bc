"""Signup and provisioning: one atomic service call from the form to a ready workspace.

Every step runs in one transaction. PostgreSQL DDL is transactional, so a
failure at any step (schema, domain, owner) rolls back the schema rename or
creation together with the rows: nothing half-made remains, and a claimed
spare schema returns to the pool.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

import audit.services as audit
from accounts.services import create_owner
from audit import context as audit_context
from billing.selectors import default_plan

from . import pool, routing, schemas
from .models import Domain, Tenant
from .selectors import workspace_host, workspace_url
from .validators import schema_name_for, validate_slug

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProvisionedWorkspace:
    tenant: Tenant
    owner_id: int
    url: str
    # "pool" when a spare schema was renamed, "migrate" when the pool was empty.
    path: str


def validate_signup(
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
        if (
            Tenant.objects.filter(slug=slug).exists()
            or Domain.objects.filter(domain=workspace_host(slug)).exists()
        ):
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


def provision_tenant(
    *, name: str, slug: str, owner_email: str, owner_password: str, owner_name: str = ""
) -> ProvisionedWorkspace:
    """Validate, then create a ready workspace with its owner. The use case behind signup."""
    slug = slug.strip().lower()
    owner_email = owner_email.strip().lower()
    validate_signup(
        name=name, slug=slug, owner_email=owner_email,
        owner_password=owner_password, owner_name=owner_name,
    )  # fmt: skip
    # Hashed before the transaction: slow on purpose, and no reason to hold locks meanwhile.
    password_hash = make_password(owner_password)
    return create_workspace(
        name=name.strip(), slug=slug, owner_email=owner_email,
        owner_name=owner_name.strip(), owner_password_hash=password_hash,
    )  # fmt: skip


def create_workspace(
    *, name: str, slug: str, owner_email: str, owner_name: str, owner_password_hash: str
) -> ProvisionedWorkspace:
    """Create tenant row, schema, domain and owner in one transaction (inputs already valid)."""
    schema_name = schema_name_for(slug)
    with transaction.atomic():
        try:
            with transaction.atomic():
                tenant = Tenant.objects.create(
                    name=name, slug=slug, schema_name=schema_name, owner_email=owner_email,
                    state=Tenant.State.PROVISIONING, plan=default_plan(),
                )  # fmt: skip
        except IntegrityError as error:
            # Lost a race with a concurrent signup for the same address.
            raise ValidationError({"slug": [_("This address is already taken.")]}) from error
        path = _make_schema(schema_name)
        _add_domain(tenant, slug)
        owner = _create_owner(tenant, owner_email, owner_name, owner_password_hash)
        tenant.state = Tenant.State.ACTIVE
        tenant.save(update_fields=["state", "updated_at"])
        # The new owner is the actor: signup happens before anyone is signed in.
        with audit_context.bind(actor=audit_context.Actor.for_user(owner)):
            audit.record(
                "tenant.created",
                target=tenant,
                tenant=tenant,
                changes={"name": name, "slug": slug, "owner_email": owner_email, "via": path},
            )
        transaction.on_commit(lambda: routing.forget_host(workspace_host(slug)))
        transaction.on_commit(_request_pool_refill)
    return ProvisionedWorkspace(
        tenant=tenant, owner_id=owner.pk, url=workspace_url(slug), path=path
    )


def _make_schema(schema_name: str) -> str:
    if pool.claim_spare_into(schema_name):
        return "pool"
    logger.warning("spare schema pool empty: migrating %s during signup", schema_name)
    schemas.create_schema(schema_name)
    schemas.migrate_schema(schema_name)
    return "migrate"


def _add_domain(tenant: Tenant, slug: str) -> Domain:
    return Domain.objects.create(domain=workspace_host(slug), tenant=tenant, is_primary=True)


def _create_owner(tenant: Tenant, email: str, full_name: str, password_hash: str):
    with schema_context(tenant.schema_name):
        return create_owner(email=email, full_name=full_name, password_hash=password_hash)


def _request_pool_refill() -> None:
    if not settings.TENANT_SPARE_POOL_SIZE:
        return
    from .tasks import refill_spare_pool

    try:
        refill_spare_pool.delay()
    except Exception:  # the broker is down: beat refills later, the signup is done
        logger.exception("could not queue a spare pool refill")
