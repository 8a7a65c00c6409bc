"""The probe task: reads inside a tenant's schema as the project's tasks do
(``schema_context``) and pushes what it saw to a Redis list."""

import json

import redis
from celery import shared_task
from django.conf import settings
from django_tenants.utils import schema_context

from .probe import visible_rows


@shared_task(ignore_result=True)
def probe_schema(schema_name: str, reply_key: str) -> None:
    with schema_context(schema_name):
        seen = visible_rows()
    seen["asked"] = schema_name
    redis.Redis.from_url(settings.CELERY_BROKER_URL).rpush(reply_key, json.dumps(seen))
