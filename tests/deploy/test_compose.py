"""deploy/compose.yaml is valid for Debian's docker-compose (1.29; `config` needs no
daemon) and describes the whole single-machine stack."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
SECRETS = {
    "DJANGO_SECRET_KEY": "compose-test-secret",
    "AUDIT_HMAC_KEY": "compose-test-hmac",
    "POSTGRES_PASSWORD": "compose-test-password",
    "ATRIUM_DOMAIN": "atrium.example",
}

pytestmark = pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose is not installed (deploy/local/services.sh test-deps)",
)


def mounts(service: dict) -> dict[str, str]:
    """target -> source of a service's volumes (1.29 prints them as source:target[:mode])."""
    pairs = (v.split(":")[:2] for v in service.get("volumes", []))
    return {target: source for source, target in pairs}


def compose_config(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=ROOT,
        timeout=60,
    )


@pytest.fixture(scope="module")
def config() -> dict:
    result = compose_config(**SECRETS)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_whole_stack_is_there(config):
    services = config["services"]
    assert set(services) == {
        "migrate",
        "web",
        "worker",
        "beat",
        "nginx",
        "clamd",
        "postgres",
        "redis",
    }
    # Web, worker, beat and the release step are one image, configured alike.
    app = ["migrate", "web", "worker", "beat"]
    assert len({services[name]["image"] for name in app}) == 1
    assert {services[name]["build"]["dockerfile"] for name in app} == {"deploy/Dockerfile"}
    for name in app:
        env = services[name]["environment"]
        assert env["DJANGO_SECRET_KEY"] == SECRETS["DJANGO_SECRET_KEY"], name
        assert env["DATABASE_URL"].endswith("@postgres:5432/atrium"), name
        assert env["REDIS_URL"].startswith("redis://redis:"), name
        assert env["CLAMD_HOST"] == "clamd", name
        assert "DJANGO_DEBUG" not in env, name
    assert "--beat" not in services["worker"]["command"]  # exactly one scheduler: `beat`
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert "deploy" not in services["beat"]  # never scaled


def test_migrations_run_to_completion_before_the_app_starts(config):
    services = config["services"]
    release = " ".join(services["migrate"]["command"])
    assert "migrate_schemas --noinput" in release and "collectstatic" in release
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, name
    for name in ("postgres", "redis"):
        assert services["migrate"]["depends_on"][name] == {"condition": "service_healthy"}


def test_only_nginx_faces_the_network_and_only_it_is_a_trusted_proxy(config):
    services = config["services"]
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"nginx"}
    ports = {(p["published"], p["target"]) for p in services["nginx"]["ports"]}
    assert ports == {(80, 80), (443, 443)}
    nginx_ip = services["nginx"]["networks"]["default"]["ipv4_address"]
    assert services["web"]["environment"]["AUDIT_TRUSTED_PROXIES"] == nginx_ip
    # nginx renders the repository's template; its own default site is switched off.
    targets = mounts(services["nginx"])
    template = Path(targets["/etc/nginx/templates/atrium.conf.template"])
    assert template == ROOT / "deploy" / "nginx" / "atrium.conf.template"
    assert targets["/etc/nginx/conf.d/default.conf"] == "/dev/null"
    assert targets["/srv/static"] == "static"
    assert services["nginx"]["environment"]["ATRIUM_UPSTREAM"] == "web:8000"
    template_names = set(re.findall(r"\$\{(ATRIUM_[A-Z_]+)\}", template.read_text()))
    assert template_names <= set(services["nginx"]["environment"])
    assert services["nginx"]["depends_on"]["web"] == {"condition": "service_healthy"}


def test_clamd_keeps_its_signatures_fresh_and_state_is_in_volumes(config):
    services = config["services"]
    assert services["clamd"]["environment"]["CLAMAV_NO_FRESHCLAMD"] == "false"
    assert "healthcheck" in services["clamd"]
    assert {"pgdata", "redis", "media", "static", "clamav-db"} <= set(config["volumes"])
    # Uploads (web) and scans (worker) share the documents; the release step fills static.
    assert mounts(services["web"])["/app/var/media"] == mounts(services["worker"])["/app/var/media"]
    assert mounts(services["migrate"])["/app/var/staticfiles"] == "static"


def test_missing_secrets_are_refused_by_name():
    result = compose_config(**{k: v for k, v in SECRETS.items() if k != "AUDIT_HMAC_KEY"})
    assert result.returncode != 0
    assert "set AUDIT_HMAC_KEY" in result.stderr
