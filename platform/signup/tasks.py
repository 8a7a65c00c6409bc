"""Background work of signup."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def email_workspace_links(email: str) -> int:
    """Mail ``email`` the links of its workspaces; nothing when it has none."""
    from .notifications import send_workspace_links

    return send_workspace_links(email)
