"""The parts of a backup: its encryption, retention, the pg_dump version check, the
production key check, permissions and the schedule."""

import base64
import io
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied

from backups import crypto, pgtools, retention, services
from core.principal import SYSTEM

KEY = os.urandom(32)


def roundtrip(data: bytes, key: bytes = KEY) -> bytes:
    sealed = io.BytesIO()
    size, digest = crypto.encrypt_stream(io.BytesIO(data), sealed, key)
    assert size == len(data)
    out = io.BytesIO()
    assert crypto.decrypt_stream(io.BytesIO(sealed.getvalue()), out, key) == (size, digest)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, crypto.RECORD, crypto.RECORD + 7, 3 * crypto.RECORD])
def test_encryption_round_trips_across_record_boundaries(size):
    data = os.urandom(size)
    assert roundtrip(data) == data


def sealed_bytes(data: bytes) -> bytearray:
    sealed = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(data), sealed, KEY)
    return bytearray(sealed.getvalue())


def decrypt(blob: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    crypto.decrypt_stream(io.BytesIO(bytes(blob)), out, key)
    return out.getvalue()


def test_the_ciphertext_does_not_contain_the_plaintext():
    data = b"confidential partner contract " * 100
    assert b"confidential" not in sealed_bytes(data)


def test_a_changed_byte_a_cut_or_a_wrong_key_is_refused():
    data = os.urandom(crypto.RECORD + 100)
    blob = sealed_bytes(data)
    flipped = bytearray(blob)
    flipped[40] ^= 1
    with pytest.raises(crypto.BackupCryptoError, match="damaged"):
        decrypt(flipped)
    # Cut after the first record: the last-record flag is missing.
    first_record = 24 + 5 + crypto.RECORD + 16
    with pytest.raises(crypto.BackupCryptoError, match="cut short"):
        decrypt(blob[:first_record])
    with pytest.raises(crypto.BackupCryptoError, match="another BACKUP_ENCRYPTION_KEY"):
        decrypt(blob, os.urandom(32))
    with pytest.raises(crypto.BackupCryptoError, match="not an Atrium backup"):
        decrypt(b"PK\x03\x04" + bytes(40))


def test_the_key_setting_is_checked(settings):
    settings.BACKUP_ENCRYPTION_KEY = base64.b64encode(KEY).decode()
    assert crypto.backup_key() == KEY
    settings.BACKUP_ENCRYPTION_KEY = base64.urlsafe_b64encode(KEY).decode().rstrip("=")
    assert crypto.backup_key() == KEY
    settings.BACKUP_ENCRYPTION_KEY = "too-short"
    with pytest.raises(ImproperlyConfigured, match="32 random bytes"):
        crypto.backup_key()
    settings.BACKUP_ENCRYPTION_KEY = ""
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured, match="must be set"):
        crypto.backup_key()
    settings.DEBUG = True
    assert len(crypto.backup_key()) == 32


def test_production_check_requires_a_backup_key(settings):
    from backups.checks import backup_key_set

    settings.DEBUG = False
    settings.BACKUP_ENCRYPTION_KEY = ""
    assert [e.id for e in backup_key_set(None)] == ["backups.E001"]
    settings.BACKUP_ENCRYPTION_KEY = base64.b64encode(KEY).decode()
    assert backup_key_set(None) == []


def test_retention_keeps_recent_daily_and_weekly_backups():
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    # Four-hourly backups over 60 days, newest first.
    times = [now - timedelta(hours=4 * i) for i in range(60 * 6)]
    keep = retention.to_keep(times, now=now, hours=24, daily=7, weekly=4)
    kept = sorted((times[i] for i in keep), reverse=True)
    within_day = [t for t in kept if now - t <= timedelta(hours=24)]
    assert len(within_day) == 7  # 0, 4, ..., 24 hours ago
    # Newest of each of the last 7 days (31st back to 25th), and of each of the last 4
    # ISO weeks: weeks 14 and 13 are covered by those days, weeks 12 and 11 add two.
    days = {t.date() for t in kept}
    assert days == {datetime(2026, 3, d).date() for d in (31, 30, 29, 28, 27, 26, 25, 22, 15)}
    assert len({tuple(t.isocalendar())[:2] for t in kept}) == 4
    # 7 in the last 24 hours (the 31st and 30th among them), 5 more days, 2 more weeks.
    assert len(kept) == 7 + 5 + 2
    # Nothing older than the weekly window survives; the newest always does.
    assert 0 in keep
    assert retention.to_keep([], now=now) == set()


def test_an_older_pg_dump_than_the_server_is_refused_clearly(settings, tmp_path):
    fake = tmp_path / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 15.10'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    settings.BACKUP_PG_BIN_DIR = str(tmp_path)
    pgtools.tool_major.cache_clear()
    with pytest.raises(ImproperlyConfigured, match="version 15 but the server is 18"):
        pgtools.checked_tool("pg_dump", 18)
    settings.BACKUP_PG_BIN_DIR = str(tmp_path / "missing")
    with pytest.raises(ImproperlyConfigured, match="BACKUP_PG_BIN_DIR"):
        pgtools.tool("pg_dump")


@pytest.mark.django_db
def test_the_bundled_pg_dump_matches_the_server():
    from django.db import connection

    with connection.cursor() as cursor:
        server = pgtools.server_major(cursor)
    path = pgtools.checked_tool("pg_dump", server)
    assert pgtools.tool_major(path) >= server


@pytest.mark.django_db
def test_only_operators_may_back_up_or_restore(tenant_a):
    from tests.conftest import user_of

    user = user_of(tenant_a, "owner@alpha.test")
    with pytest.raises(PermissionDenied):
        services.backup_create(actor=user, tenant=tenant_a)
    with pytest.raises(PermissionDenied):
        services.backup_restore(actor=user, tenant=tenant_a, swap=True)
    with pytest.raises(PermissionDenied):
        services.restore_discard(actor=user, tenant=tenant_a, schema_name="r_x")


@pytest.mark.django_db
def test_discard_refuses_anything_but_an_aside_schema_of_the_workspace(tenant_a, tenant_b):
    for name in ("t_alpha", "public", f"r_260101120000_{tenant_b.schema_name}", "r_1_t_alpha"):
        with pytest.raises(services.BackupError, match="not a schema a restore"):
            services.restore_discard(actor=SYSTEM, tenant=tenant_a, schema_name=name)


def test_backups_run_every_four_hours_and_the_drill_daily():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert schedule["backups-all-workspaces"]["task"] == "backups.tasks.backup_all"
    assert schedule["backups-all-workspaces"]["schedule"] == 4 * 3600
    assert schedule["backups-restore-drill"]["task"] == "backups.tasks.restore_drill"
