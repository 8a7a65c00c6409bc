"""Which backups to keep: every one of the last ``BACKUP_KEEP_HOURS``, plus the newest
of each of the last ``BACKUP_KEEP_DAILY`` days and ``BACKUP_KEEP_WEEKLY`` ISO weeks
(UTC) that have backups. With 4-hourly backups and the defaults that is at most 6 +
7 + 4 sets, reaching back 4 weeks."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings


def daily_window() -> timedelta:
    return timedelta(days=max(settings.BACKUP_KEEP_DAILY, 1))


def to_keep(
    times: list[datetime],
    *,
    now: datetime,
    hours: int | None = None,
    daily: int | None = None,
    weekly: int | None = None,
) -> set[int]:
    """The indexes of ``times`` (backup creation times, aware) to keep."""
    hours = settings.BACKUP_KEEP_HOURS if hours is None else hours
    daily = settings.BACKUP_KEEP_DAILY if daily is None else daily
    weekly = settings.BACKUP_KEEP_WEEKLY if weekly is None else weekly
    order = sorted(range(len(times)), key=lambda i: times[i], reverse=True)  # newest first
    keep = {i for i in order if now - times[i] <= timedelta(hours=hours)}
    for bucket_of, count in (
        (lambda t: t.date(), daily),
        (lambda t: tuple(t.isocalendar())[:2], weekly),
    ):
        seen: list = []
        for i in order:
            bucket = bucket_of(times[i])
            if bucket in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(bucket)
            keep.add(i)
    return keep
