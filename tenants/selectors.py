"""Read functions for tenants."""

from django.conf import settings
from django.db import connection
from django.urls import reverse

from . import schemas
from .models import Tenant


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
    """The Tenant row of the schema the connection is on. A request has it on the
    connection; code in ``schema_context`` (Celery tasks) has only django-tenants'
    ``FakeTenant`` there, with no name or slug, so the row is read by schema."""
    tenant = getattr(connection, "tenant", None)
    if getattr(tenant, "pk", None) and getattr(tenant, "slug", None):
        return tenant
    return Tenant.objects.get(schema_name=connection.schema_name)


def active_tenants():
    return Tenant.objects.filter(state=Tenant.State.ACTIVE)


def schemas_holding_data() -> list[str]:
    """Schemas of workspaces whose data is kept and maintained (active or suspended)."""
    return list(
        Tenant.objects.filter(state__in=[Tenant.State.ACTIVE, Tenant.State.SUSPENDED])
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )


def workspaces_for_email(email: str) -> list[Tenant]:
    """Active workspaces where ``email`` has an active account.

    One UNION ALL query per batch of schemas rather than one query per tenant.
    """
    email = email.strip().lower()
    tenants = {t.schema_name: t for t in active_tenants()}
    found: list[Tenant] = []
    names = sorted(tenants)
    batch = 200
    for start in range(0, len(names), batch):
        part = names[start : start + batch]
        sql = " UNION ALL ".join(
            f"SELECT %s FROM {schemas.quote(name)}.accounts_user "  # noqa: S608 - names checked
            "WHERE email = %s AND is_active"
            for name in part
        )
        params: list[str] = []
        for name in part:
            params += [name, email]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found += [tenants[row[0]] for row in cursor.fetchall()]
    return sorted(found, key=lambda t: t.name.lower())


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
