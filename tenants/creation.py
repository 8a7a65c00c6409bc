"""Creating a workspace's tenant row, schema and domain: the tenants half of signup.

``signup`` orchestrates the whole use case (validation, the owner account, the
plan) in one transaction; this module does what only tenants knows: claim a
spare schema or migrate a new one, add the domain, and mark the workspace
ready with its ``tenant.created`` event.
"""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

import audit.services as audit
from core.principal import Principal, write_service
from core.queue import task

from . import pool, routing, schemas
from .models import Domain, Tenant
from .selectors import workspace_host
from .validators import schema_name_for

logger = logging.getLogger(__name__)


@write_service
def tenant_create(*, actor: Principal, name: str, slug: str, owner_email: str, plan) -> Tenant:
    """The tenant row (provisioning), its schema and its primary domain, inside the
    caller's transaction (inputs already valid). Returns the tenant with ``via`` set to
    ``"pool"`` (a spare schema was renamed) or ``"migrate"`` (the pool was empty)."""
    if not connection.in_atomic_block:
        raise RuntimeError("tenant_create() must run inside the signup transaction.")
    schema_name = _unused_schema_name(slug)
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(
                name=name, slug=slug, schema_name=schema_name, owner_email=owner_email,
                state=Tenant.State.PROVISIONING, plan=plan,
            )  # fmt: skip
    except (IntegrityError, ValidationError) as error:
        # Lost a race with a concurrent signup for the same address: the unique index
        # (still in flight), or django-tenants' own schema-name check (already committed).
        raise ValidationError({"slug": [_("This address is already taken.")]}) from error
    tenant.via = _make_schema(schema_name)
    _add_domain(tenant, slug)
    return tenant


@write_service
def tenant_mark_ready(*, actor: Principal, tenant: Tenant, changes: dict) -> Tenant:
    """Provisioning → active, with ``tenant.created`` recorded in the tenant's chain (the
    signup's actor is the new owner). The routing cache forgets the host at commit, and
    the spare pool is refilled."""
    tenant.state = Tenant.State.ACTIVE
    tenant.save(update_fields=["state", "updated_at"])
    audit.record("tenant.created", actor=actor, target=tenant, tenant=tenant, changes=changes)
    host = workspace_host(tenant.slug)
    transaction.on_commit(lambda: routing.forget_host(host))
    transaction.on_commit(_request_pool_refill)
    return tenant


def _unused_schema_name(slug: str) -> str:
    """``t_<slug>``, or ``t_<slug>_<n>`` when a deleted workspace's row still holds that
    name: a schema name is also its audit chain's, which outlives the workspace, so a new
    workspace at a released address must never continue an old chain."""
    base = schema_name_for(slug)
    name, n = base, 1
    while Tenant.objects.filter(schema_name=name).exists():
        n += 1
        name = f"{base}_{n}"
    return name


def _make_schema(schema_name: str) -> str:
    if pool.claim_spare_into(schema_name):
        return "pool"
    logger.warning("spare schema pool empty: migrating %s during signup", schema_name)
    schemas.create_schema(schema_name)
    schemas.migrate_schema(schema_name)
    return "migrate"


def _add_domain(tenant: Tenant, slug: str) -> Domain:
    return Domain.objects.create(domain=workspace_host(slug), tenant=tenant, is_primary=True)


def _request_pool_refill() -> None:
    if not settings.TENANT_SPARE_POOL_SIZE:
        return
    try:
        task("tenants.tasks.refill_spare_pool").delay()
    except Exception:  # the broker is down: beat refills later, the signup is done
        logger.exception("could not queue a spare pool refill")
