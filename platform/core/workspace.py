"""The one way to read the current workspace: ``current()``.

The workspace is the schema the database connection is on: django-tenants puts
it there per request (routing middleware) and per task (``schema_context``).
Nothing else reads ``connection.tenant``, ``connection.schema_name`` or
``request.tenant``; ``tenants.selectors.current_tenant()`` builds the full
Tenant row on top of this.
"""

from dataclasses import dataclass

from django.db import connection

PUBLIC_SCHEMA = "public"


@dataclass(frozen=True)
class WorkspaceRef:
    """The current workspace as the connection knows it: its schema and, when the
    routing middleware put the Tenant row there, its id (``None`` in a task)."""

    schema_name: str
    tenant_id: int | None = None

    @property
    def is_public(self) -> bool:
        return self.schema_name == PUBLIC_SCHEMA


def current() -> WorkspaceRef:
    """The workspace the connection is on (``is_public`` on the public site)."""
    schema = getattr(connection, "schema_name", PUBLIC_SCHEMA) or PUBLIC_SCHEMA
    tenant = getattr(connection, "tenant", None)
    tenant_id = getattr(tenant, "pk", None) if schema != PUBLIC_SCHEMA else None
    return WorkspaceRef(schema_name=schema, tenant_id=tenant_id)


def current_row():
    """The Tenant row the routing middleware bound (with name and slug), or None in a
    task or on the public site: for ``tenants.selectors.current_tenant``, and for the
    layers below tenants (audit views, templates) that need the name without a query."""
    tenant = getattr(connection, "tenant", None)
    if getattr(tenant, "pk", None) and getattr(tenant, "slug", None):
        return tenant
    return None
