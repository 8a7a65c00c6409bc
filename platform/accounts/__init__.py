"""Accounts: the user model (one table per tenant schema, vendor staff in public), sign-in.

Public face: ``accounts.services`` (``create_owner``, ``make_handoff_token``,
``redeem_handoff_token``) and the ``User`` model via ``get_user_model()``.
"""
