"""The Kubernetes manifests (deploy/k8s), checked offline: every overlay renders
with the project's own kubectl (.venv/deploy, never one on PATH) and validates
strictly against the pinned Kubernetes version (scripts/validate_k8s.sh), a
broken manifest fails that validation, and the rendered objects keep the
topology's rules (probes, resources, autoscalers, secrets, settings, vLLM swap).

The tools come from scripts/setup_deploy_env.sh (stage `setup` of
scripts/test.sh); without them these tests fail, they never skip."""
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Optional
from urllib.parse import urlsplit

import pytest
import yaml

from settings.defaults import read_defaults

PROJECT_ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = PROJECT_ROOT / "deploy" / "k8s"
DEPLOY_BIN = PROJECT_ROOT / ".venv" / "deploy" / "bin"
VALIDATE_SCRIPT = PROJECT_ROOT / "scripts" / "validate_k8s.sh"
OVERLAYS = sorted(
    path.name for path in (K8S_DIR / "overlays").iterdir() if (path / "kustomization.yaml").is_file()
)
# the base renders on its own too: it is what the overlays build on
TREES = ["base"] + [f"overlays/{name}" for name in OVERLAYS]
OUR_IMAGES = ("pine/rasa", "pine/actions", "pine/model", "pine/webchat")
SECRET_NAME = "pine-secrets"
# the app works without these: Slack off, the HTTP API refused
OPTIONAL_SECRET_KEYS = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "RASA_JWT_SECRET", "RASA_API_TOKEN"}


def tool(name: str) -> Path:
    path = DEPLOY_BIN / name
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"{path} is missing: run scripts/setup_deploy_env.sh "
            "(scripts/test.sh runs it in stage setup)"
        )
    return path


def run_validate_script(*trees: Path, env: Optional[Dict[str, str]] = None):
    tool("kubectl"), tool("kubernetes-validate")
    return subprocess.run(
        ["bash", str(VALIDATE_SCRIPT), *map(str, trees)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, env=env,
    )


def render(tree: Path) -> List[dict]:
    result = subprocess.run(
        [str(tool("kubectl")), "kustomize", str(tree)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    assert result.returncode == 0, f"kubectl kustomize {tree} failed:\n{result.stderr}"
    return [item for item in yaml.safe_load_all(result.stdout) if item]


@pytest.fixture(scope="module")
def rendered() -> Dict[str, List[dict]]:
    return {tree: render(K8S_DIR / tree) for tree in TREES}


def of_kind(objects: List[dict], kind: str) -> Dict[str, dict]:
    return {item["metadata"]["name"]: item for item in objects if item["kind"] == kind}


def workloads(objects: List[dict]) -> Dict[str, dict]:
    return {**of_kind(objects, "Deployment"), **of_kind(objects, "StatefulSet")}


def containers(workload: dict) -> List[dict]:
    spec = workload["spec"]["template"]["spec"]
    return spec["containers"] + spec.get("initContainers", [])


def effective_env(objects: List[dict], deployment: str) -> Dict[str, str]:
    """The plain settings the first container of a Deployment gets: its
    ConfigMaps (envFrom), then its own `env` values (which win)."""
    configmaps = of_kind(objects, "ConfigMap")
    container = of_kind(objects, "Deployment")[deployment]["spec"]["template"]["spec"]["containers"][0]
    env: Dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]]["data"])
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
    return env


def service_for_url(objects: List[dict], url: str) -> str:
    """The Service a URL reaches, checked to exist with that port."""
    parts = urlsplit(url)
    services = of_kind(objects, "Service")
    assert parts.hostname in services, f"{url}: no Service named {parts.hostname!r}"
    ports = [port["port"] for port in services[parts.hostname]["spec"]["ports"]]
    assert parts.port in ports, f"{url}: Service {parts.hostname} has ports {ports}"
    return parts.hostname


def test_the_environments_and_the_vllm_overlay_exist():
    assert {"staging", "production", "vllm"} <= set(OVERLAYS)


# --- rendered and validated offline ----------------------------------------------


@pytest.mark.parametrize("tree", TREES)
def test_renders_and_validates_strictly(tree):
    result = run_validate_script(K8S_DIR / tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK "), result.stdout


def test_an_unchanged_copy_validates(tmp_path):
    # the control for the broken copies below: copying alone breaks nothing
    shutil.copytree(K8S_DIR, tmp_path / "k8s")
    result = run_validate_script(tmp_path / "k8s" / "overlays" / "staging")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "file, original, broken, expected",
    [
        # a field of the wrong type
        ("base/webchat.yaml", "replicas: 2", 'replicas: "two"', ["deployment/webchat", "replicas", "'two'"]),
        # an unknown field (a typo): only strict validation sees it
        (
            "base/rasa.yaml", "readinessProbe:", "readinessProbes:",
            ["deployment/rasa", "'readinessProbes' was unexpected"],
        ),
        # an API version Kubernetes does not have: kubernetes-validate only warns
        (
            "base/model.yaml", "apiVersion: autoscaling/v2", "apiVersion: autoscaling/v3",
            ["kind HorizontalPodAutoscaler", "autoscaling/v3"],
        ),
    ],
    ids=["wrong-type", "unknown-field", "unknown-api-version"],
)
def test_a_broken_manifest_fails_validation(tmp_path, file, original, broken, expected):
    copy = tmp_path / "k8s"
    shutil.copytree(K8S_DIR, copy)
    manifest = copy / file
    text = manifest.read_text()
    assert text.count(original) == 1, f"{file} should hold {original!r} once"
    manifest.write_text(text.replace(original, broken))

    result = run_validate_script(copy / "overlays" / "staging")

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "FAIL" in output and "does not validate" in output, output
    for fragment in expected:
        assert fragment in output, f"{fragment!r} not in:\n{output}"


def test_the_validation_ignores_a_kubectl_on_path(tmp_path):
    # the machines' own kubectl is not the project's: a broken one first on
    # PATH must change nothing
    fake = tmp_path / "bin" / "kubectl"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'not the project kubectl' >&2\nexit 3\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    result = run_validate_script(K8S_DIR / "overlays" / "staging", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


# --- the topology's rules, in what is rendered --------------------------------------


@pytest.mark.parametrize("tree", TREES)
def test_every_workload_has_probes_and_resources(rendered, tree):
    for name, workload in workloads(rendered[tree]).items():
        for container in containers(workload):
            where = f"{tree}: {workload['kind']} {name}, container {container['name']}"
            assert "readinessProbe" in container, where
            assert "livenessProbe" in container, where
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), where
            assert "memory" in resources.get("limits", {}), where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_keep_the_base_resources(rendered, overlay):
    # each tier's resources are written once, in its base Deployment
    base = workloads(rendered["base"])
    for name, workload in workloads(rendered[f"overlays/{overlay}"]).items():
        if name in base:
            assert [c.get("resources") for c in containers(workload)] == [
                c.get("resources") for c in containers(base[name])
            ], f"{overlay} changes the resources of {name}"


@pytest.mark.parametrize("tree", TREES)
def test_pods_run_unprivileged(rendered, tree):
    for name, workload in workloads(rendered[tree]).items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"].get("runAsNonRoot") is True, name
        # Service links would set RASA_PORT=tcp://..., WEBCHAT_PORT=tcp://...
        assert pod.get("enableServiceLinks") is False, name
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        for container in containers(workload):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert "ALL" in security["capabilities"]["drop"], name
            if container["image"].startswith(OUR_IMAGES):
                assert security["readOnlyRootFilesystem"] is True, name
                mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
                for path in ("/tmp", "/app/var"):
                    assert path in mounts, f"{name}: nothing writable at {path}"
                    assert "emptyDir" in volumes[mounts[path]], f"{name}: {path} is not an emptyDir"


@pytest.mark.parametrize("tree", TREES)
def test_autoscalers_and_budgets_target_existing_workloads(rendered, tree):
    objects = rendered[tree]
    deployments = of_kind(objects, "Deployment")
    autoscalers = of_kind(objects, "HorizontalPodAutoscaler")
    assert {"rasa", "actions", "model"} <= set(autoscalers)
    for name, autoscaler in autoscalers.items():
        assert autoscaler["apiVersion"] == "autoscaling/v2", name
        target = autoscaler["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments, name
        assert autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"], name
        # the HPA owns the count: a fixed one would be reset by every apply
        assert "replicas" not in deployments[target["name"]]["spec"], target["name"]

    budgets = of_kind(objects, "PodDisruptionBudget")
    assert {"rasa", "actions", "model", "webchat"} <= set(budgets)
    pod_labels = [w["spec"]["template"]["metadata"]["labels"] for w in workloads(objects).values()]
    for name, budget in budgets.items():
        selector = budget["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= labels.items() for labels in pod_labels), (
            f"{tree}: PodDisruptionBudget {name} selects no workload's pods"
        )


@pytest.mark.parametrize("tree", TREES)
def test_services_select_pods_with_their_ports(rendered, tree):
    objects = rendered[tree]
    pod_templates = [w["spec"]["template"] for w in workloads(objects).values()]
    for name, service in of_kind(objects, "Service").items():
        selector = service["spec"]["selector"]
        matching = [t for t in pod_templates if selector.items() <= t["metadata"]["labels"].items()]
        assert matching, f"{tree}: Service {name} selects no pods"
        port_names = {p.get("name") for t in matching for c in t["spec"]["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, f"{tree}: Service {name} targets {port['targetPort']}"


def test_no_committed_secret_carries_data(rendered):
    for tree, objects in rendered.items():
        for item in objects:
            if item["kind"] == "Secret":
                assert not item.get("data") and not item.get("stringData"), f"{tree}: {item['metadata']}"
    for path in K8S_DIR.rglob("*"):
        if path.suffix in (".yaml", ".yml"):
            text = path.read_text()
            assert "secretGenerator" not in text, path
            for document in yaml.safe_load_all(text):
                if isinstance(document, dict) and document.get("kind") == "Secret":
                    assert not document.get("data") and not document.get("stringData"), path


@pytest.mark.parametrize("tree", TREES)
def test_secrets_come_from_the_one_secret(rendered, tree):
    for name, workload in workloads(rendered[tree]).items():
        for container in containers(workload):
            for variable in container.get("env", []):
                reference = variable.get("valueFrom", {}).get("secretKeyRef")
                if reference is None:
                    continue
                assert reference["name"] == SECRET_NAME, f"{name}: {variable['name']}"
                optional = reference.get("optional", False)
                assert optional == (reference["key"] in OPTIONAL_SECRET_KEYS), (
                    f"{name}: {reference['key']} should be optional: {not optional}"
                )


@pytest.mark.parametrize("tree", TREES)
def test_settings_configmaps_use_only_defaults_env_names(rendered, tree):
    known = set(read_defaults())
    objects = rendered[tree]
    configmaps = of_kind(objects, "ConfigMap")
    used = set()
    for workload in workloads(objects).values():
        for container in containers(workload):
            used |= {source["configMapRef"]["name"] for source in container.get("envFrom", [])}
            used |= {
                variable["valueFrom"]["configMapKeyRef"]["name"]
                for variable in container.get("env", [])
                if "configMapKeyRef" in variable.get("valueFrom", {})
            }
    assert used, f"{tree}: no pod takes its settings from a ConfigMap"
    for name in used:
        unknown = set(configmaps[name]["data"]) - known
        assert not unknown, f"{tree}: ConfigMap {name} sets names defaults.env lacks: {sorted(unknown)}"


@pytest.mark.parametrize("tree", TREES)
def test_the_tiers_reach_each_other_by_service(rendered, tree):
    objects = rendered[tree]
    for deployment in ("rasa", "actions"):
        env = effective_env(objects, deployment)
        assert service_for_url(objects, env["ACTION_ENDPOINT_URL"]) == "actions"
        assert service_for_url(objects, env["EMBEDDING_SERVER_URL"]) == "model"


@pytest.mark.parametrize("overlay", [name for name in OVERLAYS if name != "vllm"])
def test_without_vllm_the_chat_goes_to_our_model_server(rendered, overlay):
    objects = rendered[f"overlays/{overlay}"]
    assert service_for_url(objects, effective_env(objects, "actions")["MODEL_SERVER_URL"]) == "model"


def test_vllm_overlay_swaps_only_the_chat_url(rendered):
    objects = rendered["overlays/vllm"]
    env = effective_env(objects, "actions")
    assert service_for_url(objects, env["MODEL_SERVER_URL"]) == "vllm"
    assert urlsplit(env["MODEL_SERVER_URL"]).path == "/v1"
    assert service_for_url(objects, env["EMBEDDING_SERVER_URL"]) == "model"

    vllm = of_kind(objects, "Deployment")["vllm"]["spec"]["template"]["spec"]["containers"][0]
    image, _, tag = vllm["image"].partition(":")
    assert image == "vllm/vllm-openai" and tag not in ("", "latest"), vllm["image"]
    args = " ".join(vllm.get("args", []))
    chat_model = env.get("LLM_CHAT_MODEL") or read_defaults()["LLM_CHAT_MODEL"]
    # the actions ask for LLM_CHAT_MODEL by name: vLLM must serve it under that name
    assert f"--served-model-name={chat_model}" in args, args
    assert "--model=HuggingFaceTB/SmolLM2-135M-Instruct" in args, args


@pytest.mark.parametrize("tree", TREES)
def test_ingress_routes_and_socketio_affinity(rendered, tree):
    objects = rendered[tree]
    routes = {}  # path -> (service, annotations of its Ingress)
    hosts = set()
    for ingress in of_kind(objects, "Ingress").values():
        annotations = ingress["metadata"].get("annotations", {})
        for rule in ingress["spec"]["rules"]:
            hosts.add(rule["host"])
            for path in rule["http"]["paths"]:
                routes[path["path"]] = (path["backend"]["service"]["name"], annotations)
    assert routes["/"][0] == "webchat"
    assert routes["/webhooks/"][0] == "rasa"
    service, annotations = routes["/socket.io/"]
    assert service == "rasa"
    assert annotations.get("nginx.ingress.kubernetes.io/affinity") == "cookie"
    # REST and Slack webhooks are balanced per request, not stuck to a replica
    assert "nginx.ingress.kubernetes.io/affinity" not in routes["/webhooks/"][1]

    # the web chat page opens its socket on the ingress's own public URL
    assert len(hosts) == 1, hosts
    (host,) = hosts
    for deployment in ("rasa", "webchat"):
        env = effective_env(objects, deployment)
        assert urlsplit(env["WEBCHAT_SOCKET_URL"]).hostname == host, (tree, deployment)
        assert env["WEBCHAT_ALLOWED_ORIGINS"] == f"https://{host}", (tree, deployment)


def test_production_uses_managed_stores(rendered):
    objects = rendered["overlays/production"]
    assert not of_kind(objects, "StatefulSet")
    services = set(of_kind(objects, "Service"))
    env = effective_env(objects, "actions")
    for name in ("TRACKER_STORE_HOST", "LOCK_STORE_HOST"):
        assert env[name] not in services, f"{name}={env[name]} is an in-cluster Service"
    for name in ("DATABASE_URL", "VERIFICATION_REDIS_URL", "SLACK_SEEN_EVENTS_REDIS_URL"):
        assert urlsplit(env[name]).hostname not in services, f"{name}={env[name]}"
