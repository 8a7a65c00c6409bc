"""Who may do what with documents. Every active user of the workspace lists and
downloads; everyone but read-only users uploads (``accounts.permissions.can_write``);
the uploader, owners and admins rename and delete a document (never a read-only
user, even one who uploaded it before being made read-only); only owners and admins
restore deleted documents."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from accounts.selectors import acting_user, can_write, is_workspace_admin
from core.principal import Principal

from .models import Document

ROLES = ("owner", "admin", "member", "readonly")


def require_member(actor: Principal):
    """The workspace user ``actor`` acts as (users are per schema, so a user of this
    schema is a member of this workspace)."""
    try:
        user = acting_user(actor)
    except PermissionDenied:
        raise PermissionDenied(_("Sign in to your workspace first.")) from None
    if user.role not in ROLES:
        raise PermissionDenied(_("You have no role in this workspace."))
    return user


def require_writer(actor: Principal):
    user = require_member(actor)
    if not can_write(actor):
        raise PermissionDenied(_("Your role is read-only: you can view and download documents."))
    return user


def can_manage(actor: Principal, document: Document) -> bool:
    """Rename and delete: the uploader, or an owner or admin; never a read-only user."""
    if not can_write(actor):
        return False
    return is_workspace_admin(actor) or document.uploaded_by_id == actor.acting_user.pk


def can_restore(actor: Principal) -> bool:
    return is_workspace_admin(actor)
