"""Errors that services raise and every entry point (page, API, command) shows the same way."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class ReadOnlyError(PermissionDenied):
    """A write was refused because the principal may only read.

    A ``PermissionDenied``, so every layer that already refuses forbidden work
    (403 page, API error) refuses this one too; ``str()`` is the message to show.
    """

    default_message = _(
        "This session is read-only: you can look around, but nothing can be changed."
    )

    def __init__(self, message: str | None = None) -> None:
        self.message = str(message or self.default_message)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def required_reason(reason: str | None) -> str:
    """``reason`` stripped, or a ValidationError on the ``reason`` field when it is
    empty: the reason a vendor or the system gives for a change, kept in its audit event."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [gettext("Give a reason: it is kept in the audit log.")]})
    return reason
