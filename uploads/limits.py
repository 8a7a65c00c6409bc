"""The words of the upload limits, one place for the handler, the view and the service."""

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _


def too_large_message(name: str, limit: int) -> str:
    return _("“%(name)s” is larger than the limit of %(limit)s per file.") % {
        "name": name,
        "limit": filesizeformat(limit),
    }


def over_quota_message(name: str) -> str:
    return _("Uploading “%(name)s” would exceed your workspace's storage quota.") % {"name": name}
