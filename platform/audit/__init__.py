"""Audit log: append-only, tamper-evident, one hash chain per tenant and one for the platform.

Public face:

- ``audit.record(action, target=..., changes=...)``: write one event inside the
  caller's transaction (services call it; nothing else writes events).
- ``audit.context``: the request/task context (actor, impersonator, ip, user
  agent, request id) gathered once by middleware and by the Celery task wrapper.
"""
