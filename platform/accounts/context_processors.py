"""Template context from accounts: what the signed-in user's role lets pages show."""

from django.http import HttpRequest

from . import permissions


def roles(request: HttpRequest) -> dict[str, bool]:
    principal = getattr(request, "principal", None)
    return {"is_workspace_admin": permissions.is_workspace_admin(principal)}
