"""Workspace read-only mode: why a workspace may be read but not changed.

A workspace is read-only while its ``Tenant.read_only_reasons`` is not empty
(billing's trial end, overdue payment or cancellation; the vendor's freeze).
Only ``tenants.services.tenant_restrict`` / ``tenant_unrestrict`` change it; the
routing cache carries the reasons, so the check below costs no SQL on a request.
Every ``@write_service`` calls ``require_workspace_writable`` (see
``core.principal.write_service``).
"""

from typing import Any

from django.db import connection
from django.utils.translation import gettext_lazy as _

from .errors import ReadOnlyError

REASONS: dict[str, Any] = {
    "trial_ended": _(
        "The free trial has ended. An owner can choose a plan under Settings → Billing."
    ),
    "payment_overdue": _(
        "A payment is overdue. An owner can update the payment method under Settings → Billing."
    ),
    "subscription_canceled": _(
        "The subscription has ended. An owner can subscribe again under Settings → Billing."
    ),
    "vendor_freeze": _("Atrium support has made this workspace read-only. Please contact support."),
}
# Billing's reasons: an owner can lift them by paying (the billing pages stay usable).
BILLING_REASONS = frozenset({"trial_ended", "payment_overdue", "subscription_canceled"})


def explain(reason: str) -> str:
    """The user-facing sentence for ``reason``."""
    return str(REASONS.get(reason, _("This workspace is read-only.")))


class WorkspaceReadOnlyError(ReadOnlyError):
    """A write was refused because the workspace is read-only (a 403 with the reason)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            _("This workspace is read-only: nothing can be created or changed. %(why)s")
            % {"why": explain(reason)}
        )


def read_only_reasons() -> tuple[str, ...]:
    """The current workspace's read-only reasons; empty when it is writable (and always
    on the public site). Read from the Tenant row the connection carries: the routing
    cache's on a request, the database row in ``tenant_context``."""
    if getattr(connection, "schema_name", "public") == "public":
        return ()
    tenant = getattr(connection, "tenant", None)
    return tuple(getattr(tenant, "read_only_reasons", None) or ())


def require_workspace_writable(actor: Any) -> None:
    """Raise ``WorkspaceReadOnlyError`` when the current workspace is read-only, unless
    ``actor`` is the system (a scan finishing, a purge, billing's own bookkeeping)."""
    if getattr(getattr(actor, "audit_actor", None), "type", "") == "system":
        return
    reasons = read_only_reasons()
    if reasons:
        raise WorkspaceReadOnlyError(reasons[0])
