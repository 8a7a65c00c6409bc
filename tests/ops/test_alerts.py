"""deploy/prometheus/alerts.yml: valid rules, unit-tested, on metrics we really export."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: Debian's prometheus (services.sh test-deps)"
)

PAGED = {
    "AtriumSiteDown", "AtriumHighErrorRate", "AtriumScanBacklogOld", "AtriumNoRecentBackup",
    "AtriumAuditChainBroken", "AtriumAuditSealLagHigh", "AtriumSparePoolEmpty",
}  # fmt: skip


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


@needs_promtool
def test_rules_are_valid():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_rule_unit_tests_pass():
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def rules() -> list[dict]:
    return [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]


def test_every_paging_alert_is_there_unit_tested_and_documented():
    alerts = {rule["alert"]: rule for rule in rules()}
    assert set(alerts) >= PAGED
    tested = {case["alertname"] for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for case in test["alert_rule_test"]}  # fmt: skip
    assert set(alerts) <= tested, set(alerts) - tested
    runbook = (ROOT / "deploy" / "README.md").read_text()
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["runbook"] == f"deploy/README.md#{name.lower()}"
        assert f"#### {name}" in runbook, f"deploy/README.md explains {name}"
    assert {n for n, r in alerts.items() if r["labels"]["severity"] == "page"} >= PAGED


@pytest.mark.django_db
def test_alerts_use_only_metrics_that_atrium_exports(tenant_a):
    Client(HTTP_HOST="alpha.localhost").get("/accounts/login/")  # one request counted
    from audit.tasks import verify_all
    from tenants.tasks import refill_spare_pool

    verify_all.apply()
    refill_spare_pool.apply()
    from django.core.cache import caches
    from django.utils import timezone

    from backups.models import RestoreDrill
    from config.metrics import FLEET_KEY

    now = timezone.now()
    RestoreDrill.objects.create(tenant=tenant_a, started_at=now, finished_at=now, ok=True)
    caches["ops"].delete(FLEET_KEY)  # the fleet figures are cached between scrapes
    exported = Client(HTTP_HOST="127.0.0.1").get("/metrics").content.decode()
    names = set(re.findall(r"^# TYPE (\w+) ", exported, flags=re.M))
    names |= {f"{n}_total" for n in names}
    used = {name for rule in rules() for name in re.findall(r"\batrium_\w+", rule["expr"])}
    assert used and used <= names, used - names
