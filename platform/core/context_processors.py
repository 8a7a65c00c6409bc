"""Template context shared by every page."""

from django.http import HttpRequest

from .workspace import current_row


def workspace(request: HttpRequest) -> dict:
    """``workspace``: the current workspace's Tenant row on a workspace host, else None."""
    return {"workspace": current_row()}
