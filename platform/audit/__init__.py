"""Audit log: append-only, tamper-evident, one hash chain per tenant and one for the platform.

A leaf of the layering: it knows nothing of tenants or accounts (``core`` only).

Public face:

- ``audit.services``: ``record(action, *, actor, target=..., changes=..., tenant=...)``
  writes one event inside the caller's transaction (services call it; nothing else
  writes events); the chain maintenance (``seal_chain``, ``checkpoint_chain``,
  ``verify_chain(s)``, ``retention_apply``) and ``retention_set``, ``export_recorded``,
  ``db_roles_separate``.
- ``audit.selectors``: reading a log (permission-checked), filters, pages, exports.
- ``audit.registry``: ``declare`` an action (each package in its ``audit_actions.py``),
  and the sentences, groups and filter words of the declared actions.
"""
