"""``manage.py ensure_demo_tenant``: the demo workspace of ``make run``, made once."""

import json
import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from core.principal import SYSTEM
from tenants.selectors import tenant_for_slug, workspace_url

from ...services import tenant_provision

CREDENTIALS = Path(settings.BASE_DIR) / "var" / "demo-credentials.json"


class Command(BaseCommand):
    help = "Create the demo workspace if it is missing and print its owner's credentials."

    def handle(self, *args, **options) -> None:
        if tenant_for_slug("demo") is None or not CREDENTIALS.exists():
            if tenant_for_slug("demo") is not None:
                self.stdout.write("demo workspace exists, its credentials file is gone")
                return
            # A fresh random password per machine: no credential lives in the repository.
            credentials = {"email": "owner@demo.example", "password": secrets.token_urlsafe(12)}
            tenant_provision(
                actor=SYSTEM,
                name="Demo Partners",
                slug="demo",
                owner_email=credentials["email"],
                owner_password=credentials["password"],
                owner_name="Demo Owner",
            )
            CREDENTIALS.parent.mkdir(parents=True, exist_ok=True)
            CREDENTIALS.write_text(json.dumps(credentials))
            CREDENTIALS.chmod(0o600)
        credentials = json.loads(CREDENTIALS.read_text())
        self.stdout.write(
            f"Demo workspace {workspace_url('demo')}\n"
            f"  owner email:    {credentials['email']}\n"
            f"  owner password: {credentials['password']}"
        )
