"""Tenants: workspaces, their domains and lifecycle, the spare-schema pool, host routing,
fleet migrations, and (on Citus) moving a workspace between nodes.

Public face (import these, not the internals; see tenants/README.md):

- ``tenants.services``: ``tenant_create``, ``tenant_mark_ready``, ``tenant_transition``,
  ``tenant_suspend``, ``tenant_reactivate``, ``tenant_address_release``,
  ``spare_pool_refill``, ``forget_tenant``,
  ``tenant_move``
- ``tenants.selectors``: ``current_tenant``, ``tenant_for_slug``, ``workspace_url``,
  ``placement`` ...
- ``tenants.schemas``: schema primitives for platform tools (backups, Citus)
"""
