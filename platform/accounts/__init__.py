"""Accounts: the user model (one table per tenant schema, vendor staff in public), sign-in,
staff, invitations, 2FA, sessions and lockouts.

Public face: ``accounts.services`` (every write, taking the principal) and
``accounts.selectors`` (reads, and the permission predicates); the ``User`` model via
``get_user_model()``. See ``platform/accounts/README.md``.
"""
