"""Signup: the public site's pages and the use case that turns a form into a workspace.

It stands above ``tenants`` (the tenant row, schema and domain), ``billing``
(the plan a workspace starts on) and ``accounts`` (the owner's account), and
orchestrates them in one transaction.

Public face:

- ``signup.services``: ``tenant_provision`` (validate, then create a ready
  workspace with its owner), ``signup_validate``, ``ProvisionedWorkspace``.
- ``signup.views``: landing, signup, find my workspace, the public 404 page.
- commands: ``provision_tenant``, ``ensure_demo_tenant``.
"""
