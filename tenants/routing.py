"""Host → tenant resolution, cached so that a hit costs no SQL.

Two levels: a small in-process table (trusted for ``TENANT_ROUTING_LOCAL_TTL``
seconds) in front of Redis (shared by every worker; invalidated when a
tenant's state changes). A state change is therefore seen at once by the
process that made it and within the local TTL by every other worker.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

from .models import Domain, Tenant

_MISSING = object()
_UNKNOWN = "unknown"
# Unknown hosts are cached briefly too, so a flood of random subdomains cannot
# turn every request into a query; a new signup evicts its own host.
_UNKNOWN_TTL = 30
# Bound on the in-process table: random subdomains must not grow memory forever.
_LOCAL_MAX = 10_000


@dataclass(frozen=True)
class Route:
    tenant_id: int
    schema_name: str
    slug: str
    name: str
    state: str
    # Why the workspace is read-only (``core.access``): carried here so that the
    # check on every write costs no SQL. A default, so routes cached before it unpickle.
    read_only_reasons: tuple[str, ...] = ()

    def as_tenant(self) -> Tenant:
        """A Tenant instance built without a query (enough for routing and views)."""
        tenant = Tenant(
            id=self.tenant_id, schema_name=self.schema_name, slug=self.slug,
            name=self.name, state=self.state, read_only_reasons=list(self.read_only_reasons),
        )  # fmt: skip
        tenant._state.adding = False
        tenant._state.db = "default"
        return tenant


_local: dict[str, tuple[float, Route | None]] = {}


def _cache():
    return caches["routing"]


def _load(host: str) -> Route | None:
    row = (
        Domain.objects.filter(domain=host)
        .values_list("tenant_id", "tenant__schema_name", "tenant__slug", "tenant__name",
                     "tenant__state", "tenant__read_only_reasons")
        .first()
    )  # fmt: skip
    return Route(*row[:5], read_only_reasons=tuple(row[5] or ())) if row else None


def resolve_host(host: str) -> Route | None:
    """The route for ``host``, or None when no tenant has that host."""
    now = time.monotonic()
    hit = _local.get(host)
    if hit is not None and hit[0] > now:
        return hit[1]
    cached = _cache().get(host, _MISSING)
    if cached is _MISSING:
        route = _load(host)
        _cache().set(host, route or _UNKNOWN, None if route else _UNKNOWN_TTL)
    else:
        route = None if cached == _UNKNOWN else cached
    if len(_local) >= _LOCAL_MAX:
        _local.clear()
    _local[host] = (now + settings.TENANT_ROUTING_LOCAL_TTL, route)
    return route


def forget_host(host: str) -> None:
    _local.pop(host, None)
    _cache().delete(host)


def forget_tenant(tenant: Tenant) -> None:
    """Drop cached routes of every host of ``tenant`` (after a state change)."""
    for host in Domain.objects.filter(tenant_id=tenant.pk).values_list("domain", flat=True):
        forget_host(host)


def clear_local() -> None:
    _local.clear()
