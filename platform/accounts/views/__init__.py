"""Workspace account pages: sign-in (``auth``), staff management (``staff``) and the
signed-in user's own account (``me``). Views parse requests and call services."""
