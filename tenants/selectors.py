"""Read functions for tenants."""

from django.conf import settings
from django.urls import reverse

from core.workspace import current as current_workspace
from core.workspace import current_row

from .citus import Node, citus_enabled, move_check, placement
from .models import Domain, Tenant
from .validators import validate_slug

__all__ = [
    "Node",
    "Tenant",
    "active_tenants",
    "citus_enabled",
    "current_tenant",
    "move_check",
    "placement",
    "public_url",
    "schemas_holding_data",
    "site_url",
    "slug_taken",
    "tenant_for_slug",
    "validate_slug",
    "workspace_host",
    "workspace_link",
    "workspace_url",
]


def workspace_host(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def site_url(host: str, path: str = "/") -> str:
    """An absolute URL on one of our hosts, with the configured scheme and port."""
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f"{settings.SITE_SCHEME}://{host}{port}{path}"


def workspace_url(slug: str, path: str = "/") -> str:
    return site_url(workspace_host(slug), path)


def workspace_link(slug: str, view_name: str, *args) -> str:
    """The absolute URL of a workspace page, by its URL name (resolved in the tenant
    URLconf, whichever schema the caller is on: a request, a task or the public site)."""
    return workspace_url(slug, reverse(view_name, args=args, urlconf=settings.ROOT_URLCONF))


def public_url(path: str = "/") -> str:
    return site_url(settings.BASE_DOMAIN, path)


def tenant_for_slug(slug: str) -> Tenant | None:
    return Tenant.objects.filter(slug=slug).first()


def current_tenant() -> Tenant:
    """The Tenant row of the current workspace (``core.workspace``). A request has it on
    the connection; code in ``schema_context`` (Celery tasks) has only django-tenants'
    ``FakeTenant`` there, with no name or slug, so the row is read by schema."""
    return current_row() or Tenant.objects.get(schema_name=current_workspace().schema_name)


def slug_taken(slug: str) -> bool:
    """Whether a workspace (or a domain) already uses the address ``slug``."""
    return (
        Tenant.objects.filter(slug=slug).exists()
        or Domain.objects.filter(domain=workspace_host(slug)).exists()
    )


def active_tenants():
    return Tenant.objects.filter(state=Tenant.State.ACTIVE)


def schemas_holding_data() -> list[str]:
    """Schemas of workspaces whose data is kept and maintained (active or suspended)."""
    return list(
        Tenant.objects.filter(state__in=[Tenant.State.ACTIVE, Tenant.State.SUSPENDED])
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )


def fleet_counts() -> dict[str, int]:
    """Workspaces per state (every state present, zeros included)."""
    from django.db.models import Count

    counts = dict.fromkeys(Tenant.State.values, 0)
    rows = Tenant.objects.order_by().values_list("state").annotate(n=Count("id"))
    counts.update({state: n for state, n in rows})
    return counts


def spare_pool_size() -> int:
    """Spare schemas ready for a signup (migrated to the current fingerprint)."""
    from . import pool

    return pool.fresh_spare_count()
