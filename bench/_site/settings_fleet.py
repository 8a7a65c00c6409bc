"""The production settings plus ``_fleetapp``, a tenant app whose migrations the bench writes.

``BENCH_MIGRATIONS_DIR`` names a folder holding the ``benchfleet_migrations`` package.
"""

import os
import sys

from config.settings.base import *  # noqa: F403
from config.settings.base import INSTALLED_APPS, TENANT_APPS

_migrations_dir = os.environ["BENCH_MIGRATIONS_DIR"]
if _migrations_dir not in sys.path:
    sys.path.insert(0, _migrations_dir)

TENANT_APPS = [*TENANT_APPS, "_fleetapp"]
INSTALLED_APPS = [*INSTALLED_APPS, "_fleetapp"]
MIGRATION_MODULES = {"benchfleet": "benchfleet_migrations"}
