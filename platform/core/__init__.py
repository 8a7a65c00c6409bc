"""The small shared core that every other package stands on; it imports none of them.

Public face:

- ``core.principal``: who acts (``Principal``; ``SYSTEM``, ``ANONYMOUS``,
  ``SupportSession``, ``AppPrincipal``; ``Actor``, the audit log's view of one)
  and ``require_writable``, the write services' first line.
- ``core.context``: where a call came from (ip, user agent, request id), bound
  per request by ``core.middleware.RequestContextMiddleware`` and per task by
  ``core.celery_context``.
- ``core.workspace``: the one way to read the current workspace (``current()``).
- ``core.errors``: ``ReadOnlyError``.
- ``core.forms``: ``apply_errors`` (a service's ``ValidationError`` onto a form).
- ``core.outbox``: the email outbox (every email is a retrying Celery task).
"""
