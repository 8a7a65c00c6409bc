"""The time the support package reads: one function, so that tests can move it (the 2 h
and 30 min limits are tested with a controlled clock, not with sleeps)."""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    """The current time (aware, UTC)."""
    return timezone.now()
