"""What a client of the current schema sees: the emails of its users, read with two
statements (a leak may strike either)."""

from django.contrib.auth import get_user_model
from django.db import connection


def visible_rows() -> dict:
    users = get_user_model().objects
    emails = sorted(users.values_list("email", flat=True))
    count = users.count()
    return {"schema": connection.schema_name, "emails": emails, "count": count}
