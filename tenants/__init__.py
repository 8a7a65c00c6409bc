"""Tenants: workspaces, their domains and lifecycle, signup and provisioning.

Public face (import these, not the internals):

- ``tenants.services``: ``provision_tenant``, ``suspend_tenant``, ``reactivate_tenant``
- ``tenants.selectors``: ``workspace_url``, ``tenant_for_slug``
- ``tenants.routing``: ``resolve_host``, ``forget_tenant``
"""
