"""docker-compose.yml and the Dockerfile agree with the code's settings and the contract."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import compose_spec
import kubernetes_validate
import pytest
import yaml
from isp_audit.settings import Settings as AuditSettings
from isp_common.settings import ServiceSettings
from isp_gateway.settings import Settings as GatewaySettings
from isp_notifications.settings import Settings as NotificationsSettings
from isp_referrals.settings import Settings as ReferralsSettings
from isp_register.settings import Settings as RegisterSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS = {
    "referrals": (ReferralsSettings, 8001),
    "register": (RegisterSettings, 8002),
    "notifications": (NotificationsSettings, 8003),
    "audit": (AuditSettings, 8004),
    "gateway": (GatewaySettings, 8005),
}
POSTGRES_SERVICES = ("referrals", "register", "notifications", "audit")
K8S_SERVICES = SETTINGS
"""The Kubernetes manifests run every service, the events gateway too."""
EXAMPLE_ENV = dict(
    line.split("=", 1)
    for line in (ROOT / "deploy/example.env").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)
REQUIRED = re.compile(r"\$\{([A-Z_]+):\?[^}]*\}")


def compose_default(value: str, environ: dict[str, str] = EXAMPLE_ENV) -> str:
    """What compose substitutes with ``environ`` as the .env file: ``${VAR:?message}`` (required) and
    ``${VAR:-default}``."""
    value = REQUIRED.sub(lambda found: environ[found.group(1)], value)
    return re.sub(r"\$\{([A-Z_]+):-([^}]*)\}", lambda found: environ.get(found.group(1), found.group(2)), value)


def test_every_service_runs_with_its_contract_port_and_own_postgres_database():
    for name, (settings_cls, port) in SETTINGS.items():
        service = COMPOSE["services"][name]
        env = service["environment"]
        assert env[f"ISP_{name.upper()}_PORT"] == str(port)
        if name in POSTGRES_SERVICES:
            assert env[f"ISP_{name.upper()}_DATABASE_URL"].startswith("postgresql://")
            assert env[f"ISP_{name.upper()}_DATABASE_URL"].endswith(f"/isp_{name}")
        assert service["build"]["args"]["SERVICE"] == name
        assert settings_cls().port == port  # the code's default is the contract's port


def test_compose_environment_names_are_settings_the_code_reads(monkeypatch):
    known = set(ServiceSettings.model_fields)
    for name, (settings_cls, _port) in SETTINGS.items():
        env = COMPOSE["services"][name]["environment"]
        for key, value in env.items():
            assert key.startswith("ISP_")
            field = key[len("ISP_") :].lower()
            service_specific = key.startswith(f"ISP_{name.upper()}_")
            assert field in known or service_specific, f"{key} is read by no setting"
            monkeypatch.setenv(key, compose_default(str(value)))
        settings = settings_cls()
        assert settings.kafka_bootstrap == "kafka:9092"
        assert settings.environment == "production"
        if name in POSTGRES_SERVICES:
            assert settings.resolved_database_url.startswith("postgresql://")
        for key in env:
            monkeypatch.delenv(key, raising=False)


def test_with_every_secret_of_the_example_env_set_each_service_has_no_production_problem(monkeypatch):
    """The compose stack, filled in as deploy/example.env says, is a configuration production accepts:
    SASL_SSL with a principal per service, tokens from an issuer for an audience, an owner and a runtime
    role per database, a webhook secret key, the checkpoint key in a directory of its own."""
    import secrets

    from cryptography.fernet import Fernet

    filled = {key: secrets.token_urlsafe(32) if "replace" in value else value for key, value in EXAMPLE_ENV.items()}
    filled["ISP_NOTIFICATIONS_WEBHOOK_SECRET_KEY"] = Fernet.generate_key().decode()
    for name, (settings_cls, _port) in SETTINGS.items():
        env = COMPOSE["services"][name]["environment"]
        for key, value in env.items():
            monkeypatch.setenv(key, compose_default(str(value), filled))
        settings = settings_cls()
        assert settings.production_problems() == [], name
        assert settings.kafka_sasl_username == f"isp-{name}"
        assert settings.event_key_file == Path(f"/var/lib/isp/keys/events/{name}.jwk")
        for key in env:
            monkeypatch.delenv(key, raising=False)


def test_the_example_env_as_it_stands_is_refused_by_production(monkeypatch):
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ISP_ENVIRONMENT", "production")
    problems = NotificationsSettings().production_problems()
    assert any("ISP_PARTNERSHIP_KEY" in p for p in problems) and any("WEBHOOK_SECRET_KEY" in p for p in problems)


def test_every_secret_compose_requires_is_in_the_example_env_and_none_has_a_default():
    text = (ROOT / "docker-compose.yml").read_text()
    assert set(REQUIRED.findall(text)) == set(EXAMPLE_ENV)
    assert not re.findall(r"\$\{[A-Z_]*(PASSWORD|KEY|SECRET)[A-Z_]*:-", text)  # no secret falls back to a default


def test_the_kafka_acl_script_is_the_one_the_directory_gives():
    from isp_common.acls import acls_for

    script = (ROOT / "deploy/kafka/acls.sh").read_text().splitlines()
    commands = [line for line in script if line.startswith("kafka-acls.sh")]
    assert commands == [acl.shell() for acl in acls_for(ROOT / "deploy/directory.json")], (
        "regenerate: python -m isp_common.acls --directory deploy/directory.json > deploy/kafka/acls.sh"
    )


def test_every_service_principal_the_broker_creates_has_acls_and_a_password_in_compose():
    start = (ROOT / "deploy/kafka/start.sh").read_text()
    acls = (ROOT / "deploy/kafka/acls.sh").read_text()
    for name in SETTINGS:
        assert name in start.split("for service in ")[1].split(";")[0]
        assert f"User:isp-{name} " in acls or name == "gateway" and "User:isp-gateway" in acls
        assert COMPOSE["services"]["kafka"]["environment"][f"ISP_{name.upper()}_KAFKA_PASSWORD"]
    properties = (ROOT / "deploy/kafka/server.properties").read_text()
    assert "allow.everyone.if.no.acl.found=false" in properties
    assert "listeners=SASL_SSL://:9092" in properties


def test_each_database_the_services_use_is_created_by_the_init_script():
    init = (ROOT / "deploy/postgres/init.sql").read_text()
    for name in POSTGRES_SERVICES:
        assert f"CREATE DATABASE isp_{name};" in init


def test_dockerfile_runs_the_service_module_named_by_the_build_arg():
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    assert "uv sync --frozen --no-dev --all-packages" in dockerfile
    assert "python -m isp_${ISP_SERVICE}" in dockerfile


def test_the_image_carries_the_directory_file_the_services_start_from():
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    assert "COPY deploy/directory.json /app/deploy/directory.json" in dockerfile
    assert "ISP_DIRECTORY_FILE=/app/deploy/directory.json" in dockerfile
    assert (ROOT / "deploy/directory.json").is_file()


# -- docker-compose.yml against the Compose specification -----------------------------------------


def test_compose_file_is_valid_against_the_compose_specification():
    # compose-spec's own YAML reader does not take merge keys (<<: *service); PyYAML resolves them first
    spec = compose_spec.PyCompose.from_json(json.dumps(COMPOSE))
    spec.validate()
    assert set(spec.service_names()) >= set(SETTINGS)
    compose_spec.ComposeSpecification.model_validate(COMPOSE)


def test_the_compose_validation_catches_a_misspelt_key():
    broken = yaml.safe_load((ROOT / "docker-compose.yml").read_text().replace("interval: 5s", "intervl: 5s", 1))
    with pytest.raises(ValueError, match="intervl"):
        compose_spec.PyCompose.from_json(json.dumps(broken)).validate()


# -- Kubernetes: the kustomize base and the production overlay -----------------------------------

K8S = ROOT / "deploy/k8s"
KUBERNETES_VERSION = "1.31.0"  # the oldest minor release the manifests are checked against
KUSTOMIZE_KEYS = {"apiVersion", "kind", "namespace", "resources", "patches", "images"}
MERGED_BY_NAME = {"containers", "initContainers", "env", "volumes"}
"""Lists a strategic-merge patch merges item by item on ``name`` (their patchMergeKey); others are replaced."""


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """A strategic-merge patch as kustomize applies the ones used here: ``null`` deletes a key."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        elif key in MERGED_BY_NAME and isinstance(target.get(key), list):
            items = {item["name"]: item for item in target[key]}
            for item in value:
                if item["name"] in items:
                    _merge(items[item["name"]], item)
            target[key][:0] = [item for item in value if item["name"] not in items]  # kustomize puts new ones first
        else:
            target[key] = value


def _identity(doc: dict[str, Any]) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def render(directory: Path) -> list[dict[str, Any]]:
    """``kustomize build`` for what these kustomizations use: resources, strategic-merge patches
    (including ``$patch: delete``), images and namespace. Anything else fails, so it cannot be ignored."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert set(kustomization) <= KUSTOMIZE_KEYS, (
        f"the test's renderer does not know {set(kustomization) - KUSTOMIZE_KEYS}"
    )
    docs: list[dict[str, Any]] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        docs += render(path) if path.is_dir() else [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch_file in kustomization.get("patches", []):
        assert set(patch_file) == {"path"}, "only strategic-merge patches from files"
        for patch in yaml.safe_load_all((directory / patch_file["path"]).read_text()):
            [target] = [d for d in docs if _identity(d) == _identity(patch)]
            if patch.pop("$patch", None) == "delete":
                docs.remove(target)
            else:
                _merge(target, patch)
    for image in kustomization.get("images", []):
        for doc in docs:
            pod = doc["spec"]["template"]["spec"] if doc["kind"] == "Deployment" else {}
            for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
                if container["image"].split(":")[0] == image["name"]:
                    container["image"] = f"{image['newName']}:{image['newTag']}"
    if namespace := kustomization.get("namespace"):
        for doc in docs:
            doc["metadata"]["namespace"] = namespace
    return docs


OVERLAYS = {"base": K8S / "base", "production": K8S / "overlays/production"}
RENDERED = {name: render(path) for name, path in OVERLAYS.items()}


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(overlay):
    for doc in RENDERED[overlay]:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{overlay}: {doc['kind']}/{doc['metadata']['name']} at {where}: {exc.message}")


def test_the_kubernetes_validation_catches_a_misspelt_field():
    deployment = copy.deepcopy(of_kind(RENDERED["base"], "Deployment")["audit"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_probes_limits_a_service_a_budget_a_policy_and_an_autoscaler(overlay):
    docs = RENDERED[overlay]
    deployments = of_kind(docs, "Deployment")
    assert set(deployments) == set(K8S_SERVICES)
    for name, (_settings, port) in K8S_SERVICES.items():
        pod = deployments[name]["spec"]["template"]
        [container] = pod["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        labels = pod["metadata"]["labels"].items()
        assert of_kind(docs, "Service")[name]["spec"]["selector"].items() <= labels
        assert of_kind(docs, "PodDisruptionBudget")[name]["spec"]["selector"]["matchLabels"].items() <= labels
        assert of_kind(docs, "NetworkPolicy")[name]["spec"]["podSelector"]["matchLabels"].items() <= labels
        hpa = of_kind(docs, "HorizontalPodAutoscaler")[name]["spec"]
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        [metric] = hpa["metrics"]
        if name == "gateway":  # it consumes nothing: it scales on CPU
            assert metric["resource"]["name"] == "cpu"
        else:
            assert metric["external"]["metric"] == {
                "name": "isp_consumer_lag",
                "selector": {"matchLabels": {"service": name}},
            }
        assert hpa["maxReplicas"] <= 6  # no more consumers than the topics' partitions


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_only_referenced_and_settings_are_ones_the_code_reads(overlay):
    docs = RENDERED[overlay]
    assert not of_kind(docs, "Secret")
    known = set(ServiceSettings.model_fields) | {"service"}  # ISP_SERVICE: which module the image runs
    config = of_kind(docs, "ConfigMap")["isp-config"]["data"]
    for name in K8S_SERVICES:
        [container] = of_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
        for key in [*config, *(e["name"] for e in container["env"])]:
            field = key.removeprefix("ISP_").lower()
            assert field in known or key.startswith(f"ISP_{name.upper()}_"), f"{key} is read by no setting"
        for env in container["env"]:
            assert "value" in env or "secretKeyRef" in env["valueFrom"]
            if any(word in env["name"] for word in ("KEY", "DATABASE_URL", "PASSWORD")) and not env["name"].endswith(
                ("_DIR", "_FILE")
            ):  # a path to a key is not a secret; the file is (test below)
                assert "secretKeyRef" in env.get("valueFrom", {}), f"{name}: {env['name']} must come from a Secret"


def test_the_directory_config_map_is_the_shipped_directory():
    shipped = json.loads((ROOT / "deploy/directory.json").read_text())
    for overlay, docs in RENDERED.items():
        assert json.loads(of_kind(docs, "ConfigMap")["isp-directory"]["data"]["directory.json"]) == shipped, overlay


def test_production_runs_every_service_on_postgresql_with_more_than_one_replica():
    docs = RENDERED["production"]
    assert not of_kind(docs, "PersistentVolumeClaim")
    for name in K8S_SERVICES:
        deployment = of_kind(docs, "Deployment")[name]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        if name in POSTGRES_SERVICES:
            reference = env[f"ISP_{name.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            assert reference == {"name": "isp-database", "key": f"{name}-url"}
        else:  # the gateway keeps nothing: SQLite (outbox tables only) on the pod's own emptyDir
            assert f"ISP_{name.upper()}_DATABASE_URL" not in env
        assert deployment["spec"]["replicas"] >= 2
        assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
        assert of_kind(docs, "HorizontalPodAutoscaler")[name]["spec"]["minReplicas"] >= 2
        assert all("persistentVolumeClaim" not in v for v in deployment["spec"]["template"]["spec"]["volumes"])
        assert container["image"].endswith(":0.1.0") and deployment["metadata"]["namespace"] == "isp"


IMAGE_ENV = {"ISP_ENVIRONMENT": "production", "ISP_HOST": "0.0.0.0", "ISP_VAR_DIR": "/var/lib/isp"}
"""What deploy/Dockerfile sets (ENV) beneath what the pod sets."""
PRIVATE_PATHS = {name: [f"ISP_{name.upper()}_EVENT_KEY_FILE"] for name in K8S_SERVICES} | {
    "audit": ["ISP_AUDIT_EVENT_KEY_FILE", "ISP_AUDIT_CHECKPOINT_KEY_DIR"]
}
"""The settings naming a private key (or its directory) each service needs, mode 0600 (0700)."""


def _secret_value(name: str, key: str) -> str:
    """What an operator puts in Secret ``name`` under ``key``: a fresh secret of the right shape."""
    import secrets

    from cryptography.fernet import Fernet

    if name == "isp-webhooks":
        return Fernet.generate_key().decode()
    if name == "isp-database":  # <service>-url: the runtime role; <service>-migration-url: the owner
        service, _, kind = key.removesuffix("-url").partition("-")
        role = f"isp_{service}_owner" if kind == "migration" else f"isp_{service}"
        return f"postgresql://{role}:{secrets.token_urlsafe(16)}@postgres:5432/isp_{service}"
    return secrets.token_urlsafe(32)


def pod_environment(docs: list[dict[str, Any]], name: str) -> dict[str, str]:
    """The environment Deployment ``name``'s container starts with: the image's, the ConfigMaps it takes
    whole, its literals, and each Secret it references filled as an operator would."""
    [container] = of_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
    environ = dict(IMAGE_ENV)
    for source in container.get("envFrom", []):
        environ |= of_kind(docs, "ConfigMap")[source["configMapRef"]["name"]]["data"]
    for env in container["env"]:
        if "value" in env:
            environ[env["name"]] = env["value"]
        else:
            reference = env["valueFrom"]["secretKeyRef"]
            environ[env["name"]] = _secret_value(reference["name"], reference["key"])
    return environ


def test_the_image_sets_what_the_pod_environment_assumes():
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    for key, value in IMAGE_ENV.items():
        assert f"{key}={value}" in dockerfile


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_configured_as_production_accepts(overlay, monkeypatch):
    """Each Deployment, its Secrets filled in, passes the check `python -m isp_<svc>` makes before it
    serves (isp_common.serve): SASL_SSL as its own principal, tokens from an issuer for an audience, a
    webhook key, the checkpoint key in a directory of its own, an owner and a runtime role per database."""
    docs = RENDERED[overlay]
    for name, (settings_cls, port) in K8S_SERVICES.items():
        for key in [key for key in os.environ if key.startswith("ISP_")]:
            monkeypatch.delenv(key)
        for key, value in pod_environment(docs, name).items():
            monkeypatch.setenv(key, value)
        settings = settings_cls()
        assert settings.production_problems() == [], (overlay, name)
        assert (settings.environment, settings.port, settings.kafka_sasl_username) == (
            "production",
            port,
            f"isp-{name}",
        )
        assert settings.kafka_ssl_cafile is not None and settings.event_keys_dir is not None
        assert settings.event_key_file == Path(f"/etc/isp/private/events/{name}.jwk")


def _volume_at(pod: dict[str, Any], container: dict[str, Any], path: str) -> dict[str, Any]:
    """The volume ``path`` lies on in ``container`` (the deepest mount holding it)."""
    mounts = [m for m in container["volumeMounts"] if path == m["mountPath"] or path.startswith(m["mountPath"] + "/")]
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    return volume


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_private_key_comes_from_a_secret_only_its_deployment_mounts(overlay):
    """A private key is on a memory-backed emptyDir of the pod's own, which the keys init container
    fills from a Secret that no other Deployment mounts (read-only, owner-read only)."""
    docs = RENDERED[overlay]
    pods = {name: d["spec"]["template"]["spec"] for name, d in of_kind(docs, "Deployment").items()}
    mounted_by: dict[str, set[str]] = {}
    for name, pod in pods.items():
        for volume in pod["volumes"]:
            if "secret" in volume:
                mounted_by.setdefault(volume["secret"]["secretName"], set()).add(name)
    for name, keys in PRIVATE_PATHS.items():
        pod = pods[name]
        [container] = pod["containers"]
        [init] = pod["initContainers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        for key in keys:
            volume = _volume_at(pod, container, env[key])
            assert volume["emptyDir"]["medium"] == "Memory", (name, key)
            assert any(m["name"] == volume["name"] for m in init["volumeMounts"]), "the init container fills it"
        sources = [_volume_at(pod, init, m["mountPath"]) for m in init["volumeMounts"] if m.get("readOnly")]
        assert sources, name
        for source in sources:
            assert mounted_by[source["secret"]["secretName"]] == {name}, source["secret"]["secretName"]
            assert source["secret"]["defaultMode"] & 0o077 == 0
            assert all(m["readOnly"] for m in init["volumeMounts"] if m["name"] == source["name"])
        assert not any(v["name"] in {s["name"] for s in sources} for v in container["volumeMounts"])


@pytest.mark.parametrize("name", sorted(PRIVATE_PATHS))
def test_the_keys_init_container_leaves_keys_the_service_accepts(name, tmp_path, monkeypatch):
    """Run the init container's script against Secret files as the kubelet writes them with an fsGroup
    (0440): the service then finds its event key 0600 and the checkpoint directory 0700, and loads them."""
    from isp_audit.checkpoints import ensure_signing_key
    from isp_common.eventkeys import ensure_signer
    from isp_common.keys import ensure_ed25519_key

    pod = of_kind(RENDERED["production"], "Deployment")[name]["spec"]["template"]["spec"]
    [init] = pod["initContainers"]
    [container] = pod["containers"]
    scratch = tmp_path / "scratch"
    ensure_signer(scratch / f"{name}.jwk", create=True)
    ensure_ed25519_key(scratch, "audit-checkpoint-key.pem", "audit-checkpoint-key.pub.pem")
    script = init["command"][-1]
    host = {
        m["mountPath"]: tmp_path / "volumes" / m["name"] for m in [*init["volumeMounts"], *container["volumeMounts"]]
    }
    for mount in init["volumeMounts"]:
        volume = _volume_at(pod, init, mount["mountPath"])
        host[mount["mountPath"]].mkdir(parents=True, exist_ok=True)
        if "secret" in volume:
            for file in scratch.iterdir():
                if file.name.startswith(f"{name}.") or volume["secret"]["secretName"] == "isp-audit-checkpoint-key":
                    copied = host[mount["mountPath"]] / file.name
                    copied.write_bytes(file.read_bytes())
                    copied.chmod(0o440)  # defaultMode 0400 with the pod's fsGroup: group read added
    paths = "|".join(
        re.escape(m["mountPath"]) for m in sorted(init["volumeMounts"], key=lambda m: -len(m["mountPath"]))
    )
    script = re.sub(f"({paths})(?=/|\\s|$)", lambda found: str(host[found.group(1)]), script)
    subprocess.run(["sh", "-c", script], check=True, timeout=30)

    def on_host(path: str) -> Path:
        mount = max((m for m in host if path.startswith(m + "/")), key=len)
        return host[mount] / path.removeprefix(mount + "/")

    env = {e["name"]: e.get("value") for e in container["env"]}
    key_file = on_host(env[f"ISP_{name.upper()}_EVENT_KEY_FILE"])
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert ensure_signer(key_file, create=False).sign(b"{}")
    if name == "audit":
        checkpoint_dir = on_host(env["ISP_AUDIT_CHECKPOINT_KEY_DIR"])
        assert checkpoint_dir.stat().st_mode & 0o777 == 0o700
        ensure_signing_key(checkpoint_dir)
        for key in [key for key in os.environ if key.startswith("ISP_")]:
            monkeypatch.delenv(key)
        settings = AuditSettings(environment="production", checkpoint_key_dir=checkpoint_dir)
        assert not [p for p in settings.production_problems() if "CHECKPOINT" in p or "chmod" in p]


@pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl is not installed: kustomize's own build not compared"
)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_renderer_agrees_with_kustomize(overlay):
    built = subprocess.run(
        ["kubectl", "kustomize", str(OVERLAYS[overlay])], capture_output=True, text=True, check=True, timeout=60
    )
    theirs = {_identity(d): d for d in yaml.safe_load_all(built.stdout) if d}
    assert theirs == {_identity(d): d for d in RENDERED[overlay]}


# -- the image ------------------------------------------------------------------------------------


def _docker_answers() -> str | None:
    """None where a Docker daemon answers, else why not."""
    if shutil.which("docker") is None:
        return "the docker client is not installed"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    return None if info.returncode == 0 else f"no Docker daemon answers `docker info`: {info.stderr.strip()[:200]}"


def test_the_image_builds_where_a_docker_daemon_answers():
    if reason := _docker_answers():
        pytest.skip(reason)
    built = subprocess.run(
        ["docker", "build", "-f", "deploy/Dockerfile", "--build-arg", "SERVICE=audit", "-t", "isp:test", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert built.returncode == 0, built.stderr[-4000:]


# -- the key and certificate scripts the compose stack runs -------------------------------------


def _load(path: Path) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_kafka_certificates_let_a_client_trusting_the_ca_talk_tls_to_kafka(tmp_path):
    import socket
    import ssl
    import threading

    ca, broker = _load(ROOT / "deploy/kafka/certs.py").make(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(broker)
    client_context = ssl.create_default_context(cafile=str(ca))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def answer() -> None:
            connection, _ = listener.accept()
            with server_context.wrap_socket(connection, server_side=True) as tls:
                tls.sendall(b"ok")

        thread = threading.Thread(target=answer)
        thread.start()
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            client_context.wrap_socket(raw, server_hostname="kafka") as tls,
        ):
            assert tls.recv(2) == b"ok"
        thread.join(timeout=10)
    assert broker.stat().st_mode & 0o777 == 0o640
    assert _load(ROOT / "deploy/kafka/certs.py").make(tmp_path) == (ca, broker)  # kept, not re-keyed


def test_the_key_script_makes_one_private_key_per_service_and_shares_only_public_halves(tmp_path):
    from isp_common.db import make_engine
    from isp_common.trust import trust_for

    keys = _load(ROOT / "deploy/keys.py")
    keys.make(tmp_path / "keys", tmp_path / "public", tmp_path / "checkpoint")
    for service in keys.SERVICES:
        private = tmp_path / "keys" / service / "events" / f"{service}.jwk"
        assert private.stat().st_mode & 0o077 == 0
        assert "d" not in json.loads((tmp_path / "public" / f"{service}.public.jwk").read_text())
    assert (tmp_path / "checkpoint").stat().st_mode & 0o777 == 0o700
    trust = trust_for(make_engine("sqlite://"), tmp_path / "public", allow_unsigned=False)
    assert set(trust.service_keys) == set(keys.SERVICES) - {"gateway"}  # the gateway signs only for partners
