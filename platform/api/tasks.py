"""Periodic work of the integration API."""

from __future__ import annotations

import logging

from celery import shared_task
from django_tenants.utils import schema_context

from core.principal import SYSTEM
from tenants.selectors import schemas_holding_data

from . import services

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def clear_expired_tokens() -> int:
    """Expired tokens and grants removed in every workspace, one schema at a time
    (django-oauth-toolkit's ``cleartokens`` runs on the public schema, which has none)."""
    done = 0
    for schema in schemas_holding_data():
        try:
            with schema_context(schema):
                services.tokens_clear_expired(actor=SYSTEM)
            done += 1
        except Exception:
            log.exception("expired tokens of %s not cleared", schema)
    return done
