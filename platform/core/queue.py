"""Queue a Celery task by its name, so a service need not import its package's tasks.

Tasks call services and services queue tasks: importing each other would be a cycle.
Looking the task up in the app's registry by name (rather than ``send_task``) keeps
``CELERY_TASK_ALWAYS_EAGER`` working in tests and local runs.
"""

from importlib import import_module
from typing import Any

from celery import current_app


def task(name: str) -> Any:
    """The registered task ``name`` (``"<package>.tasks.<function>"``), its module imported
    on first use when autodiscovery has not run in this process (a web worker)."""
    try:
        return current_app.tasks[name]
    except KeyError:
        import_module(name.rsplit(".", 1)[0])
        return current_app.tasks[name]
