"""Errors that services raise and every entry point (page, API, command) shows the same way."""

from django.core.exceptions import PermissionDenied
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
