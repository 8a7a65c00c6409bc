"""The Kubernetes manifests parse and keep the invariants a safe rollout depends on."""

from pathlib import Path

import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def load(name: str) -> dict[tuple[str, str], dict]:
    docs = [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    by_key = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert len(by_key) == len(docs), "duplicate kind/name"
    return by_key


@pytest.fixture(scope="module")
def stack() -> dict:
    return load("atrium.yaml")


@pytest.fixture(scope="module")
def release() -> dict:
    return load("release-job.yaml")


def of_kind(docs: dict, kind: str) -> dict[str, dict]:
    return {name: d for (k, name), d in docs.items() if k == kind}


def containers(doc: dict) -> list[dict]:
    return doc["spec"]["template"]["spec"]["containers"]


def test_every_container_requests_resources_and_runs_as_non_root(stack, release):
    for docs in (stack, release):
        for kind in ("Deployment", "Job"):
            for name, doc in of_kind(docs, kind).items():
                pod = doc["spec"]["template"]["spec"]
                assert pod["securityContext"]["runAsNonRoot"] is True, name
                for container in pod["containers"]:
                    resources = container["resources"]
                    assert {"cpu", "memory"} <= set(resources["requests"]), name
                    assert "memory" in resources["limits"], name
                    assert container["envFrom"] == [{"secretRef": {"name": "atrium-env"}}], name


def test_web_is_probed_on_the_health_endpoints_and_rolls_without_losing_capacity(stack):
    web = of_kind(stack, "Deployment")["atrium-web"]
    (container,) = containers(web)
    port = container["ports"][0]["containerPort"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz/ready", "port": port}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz/live", "port": port}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz/live"
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    service = of_kind(stack, "Service")["atrium-web"]
    assert (
        service["spec"]["selector"].items() <= web["spec"]["template"]["metadata"]["labels"].items()
    )
    assert service["spec"]["ports"][0]["targetPort"] == port
    for rule in of_kind(stack, "Ingress")["atrium"]["spec"]["rules"]:
        backend = rule["http"]["paths"][0]["backend"]["service"]
        assert backend == {
            "name": "atrium-web",
            "port": {"number": service["spec"]["ports"][0]["port"]},
        }


def test_web_and_workers_autoscale_and_have_disruption_budgets(stack):
    deployments = of_kind(stack, "Deployment")
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h
        for h in of_kind(stack, "HorizontalPodAutoscaler").values()
    }
    pdbs = of_kind(stack, "PodDisruptionBudget")
    assert set(hpas) == {"atrium-web", "atrium-worker"}
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"], name
        # A fixed replica count would fight the autoscaler on every apply.
        assert "replicas" not in deployments[name]["spec"], name
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        budgets = [
            p
            for p in pdbs.values()
            if p["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(budgets) == 1, name
        spec = budgets[0]["spec"]
        # A budget must let a node drain: at least one pod may always go.
        if "minAvailable" in spec:
            assert spec["minAvailable"] < hpa["spec"]["minReplicas"], name
        else:
            assert spec["maxUnavailable"] >= 1, name


def test_exactly_one_beat(stack):
    beats = [
        d for d in of_kind(stack, "Deployment").values()
        if any("beat" in c.get("command", []) for c in containers(d))
    ]  # fmt: skip
    assert [b["metadata"]["name"] for b in beats] == ["atrium-beat"]
    beat = beats[0]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}  # never two during a rollout
    for hpa in of_kind(stack, "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["scaleTargetRef"]["name"] != "atrium-beat"
    for name, doc in of_kind(stack, "Deployment").items():
        for container in containers(doc):
            command = container.get("command", [])
            assert name == "atrium-beat" or ("beat" not in command and "--beat" not in command)


def test_migrations_are_a_release_job_of_their_own_with_the_same_image(stack, release):
    jobs = of_kind(release, "Job")
    assert list(jobs) == ["atrium-release"] and len(release) == 1
    job = jobs["atrium-release"]
    (container,) = containers(job)
    assert "migrate_schemas --noinput" in " ".join(container["command"])
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] > 0
    # Not in the rollout itself: no job there, no pod migrating on start.
    assert not of_kind(stack, "Job")
    for doc in of_kind(stack, "Deployment").values():
        pod = doc["spec"]["template"]["spec"]
        assert "initContainers" not in pod
        for c in pod["containers"]:
            assert "migrate" not in " ".join(c.get("command", []))
    images = {c["image"] for d in of_kind(stack, "Deployment").values() for c in containers(d)}
    assert images == {container["image"]}
