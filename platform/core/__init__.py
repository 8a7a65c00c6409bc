"""The small shared core: the email outbox, and whatever else every module needs and
that needs nothing of theirs.

``core`` is the lowest layer: it imports nothing from accounts, audit, tenants,
uploads or billing, and every one of them may import it. Its public face:

- ``core.outbox``: every email of every module, queued as a retrying Celery task
  (``core.tasks.send_email``) and rendered by the worker in the recipient's language.
"""
