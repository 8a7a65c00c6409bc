"""Atrium's database backend: django-tenants' PostgreSQL backend, safe behind PgBouncer's
transaction pooling when ``DATABASE_POOLING=transaction`` (see ``base``)."""
