"""A site served by gunicorn and a Celery worker through pgbouncer in
``test_pgbouncer``: the test settings plus views and a task that report which
schema's rows they read."""
