"""Template context shared by every page."""

from django.http import HttpRequest

from .access import explain, read_only_reasons
from .workspace import current_row


def workspace(request: HttpRequest) -> dict:
    """``workspace``: the current workspace's Tenant row on a workspace host, else None;
    ``workspace_read_only``: why it is read-only (sentences), empty when writable."""
    return {
        "workspace": current_row(),
        "workspace_read_only": [explain(reason) for reason in read_only_reasons()],
    }
