"""Scopes: every API view declares the scopes each of its methods needs
(``required_scopes = {"GET": "documents:read", "POST": "documents:write"}``); the
token must carry them. The user's role is then checked by the service the view calls
(the same checks as the pages), so both must allow an action."""

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from core.principal import require_scope

from .problems import Problem


def required_scope(view, method: str) -> str | None:
    scopes = getattr(view, "required_scopes", {})
    if method == "HEAD":
        method = "GET"
    return scopes.get(method)


class ScopesAndRole(BasePermission):
    def has_permission(self, request, view) -> bool:
        if request.auth is None:
            return False  # DRF answers 401 (NotAuthenticated)
        scope = required_scope(view, request.method)
        if scope:
            try:
                require_scope(request._request.principal, scope)
            except PermissionDenied as exc:
                raise Problem("insufficient-scope", str(exc), required_scope=scope) from None
        return True
