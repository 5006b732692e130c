"""The Kubernetes manifests (deploy/k8s) agree with Kubernetes, with KEDA and with the code.

No cluster is needed. Each overlay is rendered here by a small kustomize of our own (``Kustomize`` below: exactly
the features deploy/k8s uses: resources, namespace, images, config map and secret generators with their name
hashes and ``behavior: merge``, JSON 6902 patches, and the rewriting of generated names where pods refer to them).
Where a ``kubectl`` binary is installed its built-in kustomize renders the same overlays and must produce the same
objects, so the small renderer cannot quietly drift from the real one. Then:

  * every object is validated against the OpenAPI schemas of a pinned Kubernetes release (``kubernetes-validate``,
    strict: an unknown field is an error); KEDA's ScaledObject and TriggerAuthentication against a schema written
    here from KEDA's documentation (keda.sh, "Scaling Deployments", "Redis Lists");
  * every container command is parsed by ``pengaduan.cli``'s own parser, every process kind of the registry has
    its Deployment, and every ``PENGADUAN_*`` variable and every secret file is a setting the process reads;
  * the probes' paths are routes of the apps they probe; the nginx configuration is deploy/nginx.conf converted
    by deploy/k8s/nginx_for_k8s.py (and, where nginx is installed, accepted by ``nginx -t`` and tried live);
  * the NetworkPolicies are evaluated for the connections that must and must not be possible.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from starlette.routing import Route

from pengaduan import apps, cli, registry
from shared.config import Settings
from shared.contracts.routing import queues
from shared.embedded import free_port
from shared.privacy import KeyEncryptionKeys
from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("production", "staging")
# The Kubernetes release the manifests are checked against: the oldest one they are meant for (autoscaling/v2,
# policy/v1 and the preStop `sleep` action are all older). Raise it deliberately.
KUBERNETES_VERSION = "1.33.0"
APP_UID = 10001  # the Dockerfile's user
CLUSTER_SCOPED_KINDS = {"Namespace"}


nginx_for_k8s = load_script(K8S / "nginx_for_k8s.py")
make_secrets = load_script(ROOT / "deploy" / "make_secrets.py")


# ---------------------------------------------------------------------------------------------------------------
# A small kustomize: what deploy/k8s uses, nothing more (an unknown field of a kustomization is an error)
# ---------------------------------------------------------------------------------------------------------------

KUSTOMIZATION_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "images",
    "configMapGenerator",
    "secretGenerator",
    "patches",
}
GENERATOR_FIELDS = {"name", "behavior", "literals", "files", "envs", "options"}


def kustomize_hash(obj: dict) -> str:
    """kustomize's name suffix of a generated ConfigMap or Secret (api/hasher): the SHA-256 of Go's JSON encoding
    of {kind, name, data} (and the Secret's type), its first ten hex digits with 0 1 3 a e swapped for g h k m t
    (so the suffix never reads as a number or a word). The name is always empty: kustomize looks it up as one field
    called "metadata/name" (``yaml.Lookup("metadata/name")``), which no object has; kustomize 5.5's own suffixes
    (test below) agree only that way."""
    encoded: dict[str, Any] = {"data": obj.get("data", {}), "kind": obj["kind"], "name": ""}
    if obj["kind"] == "Secret":
        encoded["type"] = obj.get("type", "Opaque")
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # Go's encoding/json escapes these for HTML safety
    for char, escape in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def kustomize_base64(value: str) -> str:
    """A Secret's value as kustomize writes it (api/kv encodeBase64): base64 in lines of 70 characters, each ended
    by a newline once there is more than one line's worth. The name hash is taken over this text."""
    encoded = base64.b64encode(value.encode()).decode()
    if len(encoded) // 70 + 1 == 1:
        return encoded
    return "".join(encoded[i : i + 70] + "\n" for i in range(0, len(encoded), 70))


def _env_file(path: Path) -> dict[str, str]:
    data = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}: {line!r} is not KEY=VALUE"
        data[key.strip()] = value
    return data


def _json_pointer_parts(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]


def apply_json6902(obj: dict, operations: list[dict]) -> None:
    """RFC 6902's add, replace and remove (the operations deploy/k8s uses), in place."""
    for op in operations:
        *parents, last = _json_pointer_parts(op["path"])
        node: Any = obj
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if op["op"] == "remove":
            del node[int(last) if isinstance(node, list) else last]
        elif isinstance(node, list):
            if op["op"] == "add":
                node.insert(len(node) if last == "-" else int(last), op["value"])
            else:
                node[int(last)] = op["value"]
        else:
            if op["op"] == "replace":
                assert last in node, f"replace of a missing {op['path']}"
            node[last] = op["value"]
        assert op["op"] in ("add", "replace", "remove"), op


class Kustomize:
    """Renders one kustomization directory to a list of objects."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
        unknown = set(self.spec) - KUSTOMIZATION_FIELDS
        assert not unknown, f"{folder}: kustomization fields this renderer does not know: {unknown}"

    def build(self) -> list[dict]:
        objects: list[dict] = []
        generated: dict[tuple[str, str], dict] = {}  # (kind, name) -> generated object, hash not yet applied
        for entry in self.spec.get("resources", []):
            path = self.folder / entry
            if path.is_dir():
                sub = Kustomize(path)
                objects += sub.build_unhashed()
                generated.update(sub.generated)
            else:
                objects += [d for d in yaml.safe_load_all(path.read_text()) if d]
        for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
            for gen in self.spec.get(key, []):
                self._generate(kind, gen, generated)
        self.generated = generated
        for patch in self.spec.get("patches", []):
            target, operations = patch["target"], yaml.safe_load(patch["patch"])
            matched = [
                o
                for o in objects
                if o["kind"] == target["kind"] and target.get("name", o["metadata"]["name"]) == o["metadata"]["name"]
            ]
            assert matched, f"{self.folder}: patch target {target} matches nothing"
            for o in matched:
                apply_json6902(o, operations)
        for image in self.spec.get("images", []):
            for o in objects:
                for c in _containers(o):
                    if c["image"].split(":")[0].split("@")[0] == image["name"]:
                        c["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
        if "namespace" in self.spec:
            for o in [*objects, *generated.values()]:
                if o["kind"] not in CLUSTER_SCOPED_KINDS:
                    o["metadata"]["namespace"] = self.spec["namespace"]
        return objects

    def build_unhashed(self) -> list[dict]:
        return self.build()

    def _generate(self, kind: str, gen: dict, generated: dict) -> None:
        unknown = set(gen) - GENERATOR_FIELDS
        assert not unknown, f"{self.folder}: generator fields this renderer does not know: {unknown}"
        data: dict[str, str] = {}
        for literal in gen.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        for entry in gen.get("files", []):
            key, sep, path = entry.partition("=")
            path = path if sep else key
            key = key if sep else Path(path).name
            data[key] = (self.folder / path).read_text()  # FileNotFoundError: the operator's file is missing
        for entry in gen.get("envs", []):
            data.update(_env_file(self.folder / entry))
        options = gen.get("options", {})
        behavior = gen.get("behavior", "create")
        existing = generated.get((kind, gen["name"]))
        if behavior == "merge":
            assert existing is not None, f"merge into a {kind} {gen['name']} the base does not generate"
            existing["_data"].update(data)
            if options.get("labels"):
                existing["metadata"].setdefault("labels", {}).update(options["labels"])
            existing["_options"] = {**existing["_options"], **options}
            return
        assert existing is None, f"{kind} {gen['name']} generated twice"
        obj: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": {"name": gen["name"]}}
        if options.get("labels"):
            obj["metadata"]["labels"] = dict(options["labels"])
        obj["_data"], obj["_options"] = data, options
        generated[(kind, gen["name"])] = obj


def render(folder: Path) -> list[dict]:
    """The overlay at ``folder``, as kustomize would print it (in another order)."""
    k = Kustomize(folder)
    objects = k.build()
    renames: dict[tuple[str, str], str] = {}
    for (kind, name), obj in k.generated.items():
        data = obj.pop("_data")
        options = obj.pop("_options")
        if kind == "Secret":
            obj["type"] = "Opaque"
            obj["data"] = {key: kustomize_base64(v) for key, v in sorted(data.items())}
        else:
            obj["data"] = dict(sorted(data.items()))
        if not obj["data"]:
            del obj["data"]
        if not options.get("disableNameSuffixHash"):
            obj["metadata"]["name"] = f"{name}-{kustomize_hash(obj)}"
        renames[(kind, name)] = obj["metadata"]["name"]
        objects.append(obj)
    for o in objects:
        for spec in _pod_specs(o):
            _rename_references(spec, renames)
    return objects


def _rename_references(pod: dict, renames: dict[tuple[str, str], str]) -> None:
    def rename(kind: str, ref: dict, key: str = "name") -> None:
        if ref.get(key) and (kind, ref[key]) in renames:
            ref[key] = renames[(kind, ref[key])]

    for c in pod.get("containers", []) + pod.get("initContainers", []):
        for source in c.get("envFrom", []):
            rename("ConfigMap", source.get("configMapRef", {}))
            rename("Secret", source.get("secretRef", {}))
        for var in c.get("env", []):
            rename("ConfigMap", var.get("valueFrom", {}).get("configMapKeyRef", {}))
            rename("Secret", var.get("valueFrom", {}).get("secretKeyRef", {}))
    for volume in pod.get("volumes", []):
        rename("ConfigMap", volume.get("configMap", {}))
        rename("Secret", volume.get("secret", {}), "secretName")
        for source in volume.get("projected", {}).get("sources", []):
            rename("ConfigMap", source.get("configMap", {}))
            rename("Secret", source.get("secret", {}))


def _pod_specs(obj: dict) -> list[dict]:
    if obj["kind"] in ("Deployment", "Job"):
        return [obj["spec"]["template"]["spec"]]
    return []


def _containers(obj: dict) -> list[dict]:
    return [c for spec in _pod_specs(obj) for c in spec.get("containers", []) + spec.get("initContainers", [])]


# ---------------------------------------------------------------------------------------------------------------
# fixtures: the tree with the operator's secret files written, each overlay rendered
# ---------------------------------------------------------------------------------------------------------------

SECRET_FILES = (
    "pengaduan_secret_key",
    "pengaduan_privacy_keys",
    "pengaduan_database_url",
    "pengaduan_redis_url",
    "pengaduan_document_store_url",
)
INTEGRATIONS = {
    "pengaduan_smtp_password": "smtp-password-of-the-test",
    "pengaduan_lapor_token": "lapor-token-of-the-test",
}


def _write_operator_secrets(overlay: Path, scratch: Path) -> dict[str, str]:
    """What an operator writes into overlays/<name>/secrets/: generated values (deploy/make_secrets.py), the
    managed services' URLs, KEDA's copy of the Redis password and the optional credentials."""
    generated = make_secrets.make_secrets(scratch)
    folder = overlay / "secrets"
    folder.mkdir()
    redis_password = unquote(urlsplit(generated["pengaduan_redis_url"]).password or "")
    values = {
        "pengaduan_secret_key": generated["pengaduan_secret_key"],
        "pengaduan_privacy_keys": generated["pengaduan_privacy_keys"],
        "pengaduan_database_url": generated["pengaduan_database_url"].replace("@postgres:5432", "@db.internal:5432"),
        "pengaduan_redis_url": f"redis://:{generated['pengaduan_redis_url'].split(':', 2)[2].split('@')[0]}@redis.internal:6379/0",
        "pengaduan_document_store_url": generated["pengaduan_document_store_url"],
    }
    for name, value in values.items():
        (folder / name).write_text(value + "\n")
    (folder / "redis_password").write_text(redis_password)
    (folder / "integrations.env").write_text("".join(f"{k}={v}\n" for k, v in INTEGRATIONS.items()))
    return values


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, dict[str, dict[str, str]]]:
    root = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, root, ignore=shutil.ignore_patterns("secrets", "__pycache__"))
    written = {}
    for name in OVERLAYS:
        written[name] = _write_operator_secrets(root / "overlays" / name, tmp_path_factory.mktemp(f"gen-{name}"))
    return root, written


@pytest.fixture(scope="module")
def rendered(tree) -> dict[str, list[dict]]:
    root, _ = tree
    return {name: render(root / "overlays" / name) for name in OVERLAYS}


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects: list[dict]) -> dict[str, dict]:
    return {**by_kind(objects, "Deployment"), **by_kind(objects, "Job")}


def app_workloads(objects: list[dict]) -> dict[str, dict]:
    """The workloads that run the pengaduan image."""
    return {n: o for n, o in workloads(objects).items() if _containers(o)[0]["command"] == ["pengaduan"]}


def parsed(obj: dict):
    (container,) = _pod_specs(obj)[0]["containers"]
    return cli.build_parser().parse_args(container["args"])


# ---------------------------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------------------------


def test_the_kustomize_hash_is_kustomizes():
    """Suffixes printed by kustomize 5.5 (`kubectl kustomize`) for these two generators (a literal `A=<b> & c`, a
    file `k` holding `v`): Go's HTML escapes and the empty name included."""
    cm = {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"A": "<b> & c"}}
    secret = {"kind": "Secret", "type": "Opaque", "metadata": {"name": "s"}, "data": {"k": "dg=="}}
    assert kustomize_hash(cm) == KNOWN_HASHES["configmap"]
    assert kustomize_hash(secret) == KNOWN_HASHES["secret"]


KNOWN_HASHES = {"configmap": "t6828fbg5g", "secret": "ftgtgc4t9f"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_an_overlay_cannot_be_rendered_without_the_operators_secret_files(overlay, tmp_path):
    """Nothing deployable without the operator's own secrets: no placeholder password to forget."""
    copy_root = tmp_path / "k8s"
    shutil.copytree(K8S, copy_root, ignore=shutil.ignore_patterns("secrets", "__pycache__"))
    with pytest.raises(FileNotFoundError, match="pengaduan_secret_key"):
        render(copy_root / "overlays" / overlay)
    tracked = subprocess.run(  # noqa: PLW1510
        ["git", "-C", str(ROOT), "ls-files", f"deploy/k8s/overlays/{overlay}/secrets"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert tracked.returncode == 0 and tracked.stdout == "", "an operator's secret file was committed"
    assert "overlays/*/secrets/" in (K8S / ".gitignore").read_text().splitlines()


def _normalised(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl here: its kustomize cannot confirm ours")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubectls_kustomize_renders_the_same_objects(tree, rendered, overlay):
    root, _ = tree
    result = subprocess.run(  # noqa: PLW1510
        ["kubectl", "kustomize", str(root / "overlays" / overlay)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    theirs = _normalised([d for d in yaml.safe_load_all(result.stdout) if d])
    ours = _normalised(rendered[overlay])
    assert set(theirs) == set(ours)
    for key, obj in ours.items():
        assert theirs[key] == obj, key


# ---------------------------------------------------------------------------------------------------------------
# schemas: Kubernetes', and KEDA's (written here from keda.sh)
# ---------------------------------------------------------------------------------------------------------------

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "namespace": {"type": "string"},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
    },
    "additionalProperties": False,
}
# keda.sh/docs/2.16/reference/scaledobject-spec and /scalers/redis-lists: the fields used here and their types;
# anything else is refused, so a misspelt field fails here instead of being ignored by the cluster.
REDIS_TRIGGER_METADATA = {
    "type": "object",
    "properties": {
        "address": {"type": "string", "pattern": r"^[^:/\s]+:\d+$"},
        "host": {"type": "string"},
        "port": {"type": "string", "pattern": r"^\d+$"},
        "listName": {"type": "string", "minLength": 1},
        "listLength": {"type": "string", "pattern": r"^[1-9]\d*$"},
        "activationListLength": {"type": "string", "pattern": r"^\d+$"},
        "databaseIndex": {"type": "string", "pattern": r"^\d+$"},
        "enableTLS": {"enum": ["true", "false"]},
        "unsafeSsl": {"enum": ["true", "false"]},
    },
    "required": ["listName", "listLength"],
    "oneOf": [{"required": ["address"]}, {"required": ["host", "port"]}],
    "additionalProperties": False,
}
SCALED_OBJECT_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string"},
                        "kind": {"type": "string"},
                        "apiVersion": {"type": "string"},
                        "envSourceContainerName": {"type": "string"},
                    },
                },
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"const": "redis"},
                            "name": {"type": "string"},
                            "metadata": REDIS_TRIGGER_METADATA,
                            "authenticationRef": {
                                "type": "object",
                                "required": ["name"],
                                "additionalProperties": False,
                                "properties": {
                                    "name": {"type": "string"},
                                    "kind": {"enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"]},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "additionalProperties": False,
}
TRIGGER_AUTHENTICATION_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "TriggerAuthentication"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["secretTargetRef"],
            "properties": {
                "secretTargetRef": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["parameter", "name", "key"],
                        "additionalProperties": False,
                        # the redis scaler's authentication parameters (keda.sh, Redis Lists)
                        "properties": {
                            "parameter": {"enum": ["password", "username", "host", "port"]},
                            "name": {"type": "string"},
                            "key": {"type": "string"},
                        },
                    },
                }
            },
        },
    },
    "additionalProperties": False,
}
CUSTOM_SCHEMAS = {"ScaledObject": SCALED_OBJECT_SCHEMA, "TriggerAuthentication": TRIGGER_AUTHENTICATION_SCHEMA}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_for_the_pinned_kubernetes_and_keda(rendered, overlay):
    kinds = set()
    for obj in rendered[overlay]:
        kinds.add(obj["kind"])
        if obj["kind"] in CUSTOM_SCHEMAS:
            jsonschema.validate(obj, CUSTOM_SCHEMAS[obj["kind"]])
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert kinds == {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Secret",
        "Service",
        "Deployment",
        "Job",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ScaledObject",
        "TriggerAuthentication",
    }


def test_the_keda_schema_refuses_what_keda_would_not_understand():
    """The hand-written schema is not a rubber stamp: a misspelt field, a missing address, a number for a string."""
    good = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "w"},
        "spec": {
            "scaleTargetRef": {"name": "w"},
            "triggers": [{"type": "redis", "metadata": {"address": "r:6379", "listName": "q", "listLength": "5"}}],
        },
    }
    jsonschema.validate(good, SCALED_OBJECT_SCHEMA)
    for mutate in (
        lambda o: o["spec"].update(minReplicas=1),  # the HPA's name, not KEDA's
        lambda o: o["spec"]["triggers"][0]["metadata"].pop("address"),
        lambda o: o["spec"]["triggers"][0]["metadata"].update(listLength=5),
        lambda o: o["spec"]["triggers"][0]["metadata"].update(address="redis://r:6379/0"),
    ):
        bad = copy.deepcopy(good)
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCALED_OBJECT_SCHEMA)


# ---------------------------------------------------------------------------------------------------------------
# the processes: real subcommands, one Deployment per process kind
# ---------------------------------------------------------------------------------------------------------------


def expected_processes() -> dict[str, tuple[str, ...]]:
    """Workload name -> the `pengaduan` command it must run, from the registry (a new API or queue needs one)."""
    expected = {
        "migrate": ("migrate",),
        "gateway": ("gateway",),
        "relay": ("relay",),
        "projections": ("projections", "run"),
        "scheduler": ("scheduler",),
    }
    expected |= {f"{kind}-api": ("api", kind) for kind in registry.api_kinds()}
    expected |= {f"worker-{queue}": ("worker", queue) for queue in registry.worker_kinds()}
    return expected


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_command_is_a_real_pengaduan_subcommand(rendered, overlay):
    found = app_workloads(rendered[overlay])
    assert set(found) == set(expected_processes())
    for name, obj in found.items():
        (container,) = _pod_specs(obj)[0]["containers"]
        assert container["command"] == ["pengaduan"], name  # the image's ENTRYPOINT, stated
        try:
            args = parsed(obj)
        except SystemExit as exc:  # argparse refuses with SystemExit(2)
            pytest.fail(f"{name}: `pengaduan {' '.join(container['args'])}` is refused by pengaduan.cli ({exc.code})")
        command = expected_processes()[name]
        assert args.command == command[0], name
        if args.command in ("api", "worker"):
            assert args.kind == command[1], name
        if args.command == "projections":
            assert args.action == "run"
        if args.command in ("api", "gateway"):
            assert (args.host, args.port) == ("0.0.0.0", 8000), name
            assert container["ports"] == [{"name": "http", "containerPort": 8000}], name
        if args.command == "worker":
            assert args.concurrency >= 1
        assert container["image"].startswith("registry.pamekasankab.go.id/pengaduan:"), name
    (proxy,) = _pod_specs(by_kind(rendered[overlay], "Deployment")["proxy"])[0]["containers"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert proxy["image"] == compose["services"]["proxy"]["image"], "the same nginx as docker-compose.yml"


# ---------------------------------------------------------------------------------------------------------------
# settings: every PENGADUAN_* variable and every secret file is a setting the process reads
# ---------------------------------------------------------------------------------------------------------------

# each service's settings class (a new service of the registry must be added here)
SERVICE_SETTINGS = {
    "intake": "services.intake.config:IntakeSettings",
    "workflow": "services.workflow.config:WorkflowSettings",
    "letters": "services.letters.config:LettersSettings",
    "notify": "services.notify.config:NotifySettings",
    "dashboard": "services.dashboard.config:DashboardSettings",
    "web": "services.web.config:WebSettings",
    "accounts": "services.accounts.config:AccountsSettings",
    "lapor": "services.lapor.config:LaporSettings",
}
# Variables read with os.environ, not as settings: where each is read (checked: the name is in that file).
PROCESS_VARIABLES = {
    "PENGADUAN_LOG_LEVEL": "shared/logging.py",
    "PENGADUAN_METRICS_PORT": "shared/metrics/processes.py",
    "PENGADUAN_METRICS_HOST": "shared/metrics/processes.py",
}


def _fields(reference: str) -> set[str]:
    return set(apps.load(reference).model_fields)


def settings_fields(args) -> set[str]:
    """The settings (field names) the process `pengaduan <args>` reads."""
    fields = set(Settings.model_fields)
    if args.command in ("api", "worker"):
        kind = args.kind if args.command == "api" else registry.by_queue(args.kind).name
        fields |= _fields(SERVICE_SETTINGS[kind])
    elif args.command == "gateway":
        fields |= _fields("shared.gateway:GatewaySettings")
        fields |= {f"{kind}_url" for kind in registry.api_kinds()}  # cli.cmd_gateway: PENGADUAN_<SERVICE>_URL
    elif args.command in ("relay", "projections", "scheduler"):
        process = args.command
        for service in registry.services():
            if process in service.runners:
                fields |= _fields(SERVICE_SETTINGS[service.name])
    return fields


def test_every_service_has_its_settings_class_named_here():
    assert set(SERVICE_SETTINGS) == {s.name for s in registry.services()}
    for variable, path in PROCESS_VARIABLES.items():
        assert variable in (ROOT / path).read_text(), f"{variable} is not read in {path}"


def _env_of(obj: dict, objects: list[dict]) -> dict[str, str]:
    (container,) = _pod_specs(obj)[0]["containers"]
    maps = by_kind(objects, "ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert set(source) == {"configMapRef"}, "secrets are files, never environment variables"
        env.update(maps[source["configMapRef"]["name"]]["data"])
    for var in container.get("env", []):
        assert set(var) == {"name", "value"}, f"{var['name']}: plain values only (secrets are files)"
        env[var["name"]] = var["value"]
    return env


SHARED_SECRET = "pengaduan-integrations"  # the optional credentials: one Secret for the processes that read any


def _secret_files_of(obj: dict, objects: list[dict], *, shared: bool = True) -> dict[str, str]:
    """File name -> content of what the pod mounts at /run/secrets (without the shared optional credentials)."""
    pod = _pod_specs(obj)[0]
    (container,) = pod["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/run/secrets"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    secrets = by_kind(objects, "Secret")
    files = {}
    for source in volume["projected"]["sources"]:
        (kind,) = source
        assert kind == "secret", source
        if not shared and source[kind]["name"].startswith(SHARED_SECRET):
            continue
        data = secrets[source[kind]["name"]].get("data", {})
        files |= {key: base64.b64decode(value).decode() for key, value in data.items()}
    return files


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_and_secret_file_is_a_setting_of_the_process(rendered, overlay):
    objects = rendered[overlay]
    for name, obj in app_workloads(objects).items():
        fields = settings_fields(parsed(obj))
        for variable in _env_of(obj, objects):
            assert variable.startswith("PENGADUAN_"), f"{name}: {variable}"
            if variable in PROCESS_VARIABLES:
                continue
            assert variable.removeprefix("PENGADUAN_").lower() in fields, f"{name}: {variable} is no setting it reads"
        # every file of the Secrets it alone needs (the optional credentials: the test after this one)
        for file in _secret_files_of(obj, objects, shared=False):
            assert file.startswith("pengaduan_") and file.removeprefix("pengaduan_") in fields, (
                f"{name}: /run/secrets/{file} is no setting it reads"
            )


def test_every_optional_credential_of_the_example_is_read_by_a_process_that_mounts_it(rendered):
    """overlays/*/secrets.example/integrations.env names settings, each read by a process that mounts the Secret
    (one Secret for them all: a process sees the other integrations' credentials too, docs/adr/0024)."""
    objects = rendered["production"]
    mounting = {
        name: settings_fields(parsed(obj))
        for name, obj in app_workloads(objects).items()
        if any(
            s["secret"]["name"].startswith(SHARED_SECRET)
            for v in _pod_specs(obj)[0]["volumes"]
            if "projected" in v
            for s in v["projected"]["sources"]
        )
    }
    assert {"intake-api", "letters-api", "worker-letters", "worker-notify", "projections", "scheduler"} <= set(mounting)
    for overlay in OVERLAYS:
        text = (K8S / "overlays" / overlay / "secrets.example" / "integrations.env").read_text()
        keys = [line.lstrip("#").split("=")[0] for line in text.splitlines() if line.startswith("#pengaduan_")]
        assert len(keys) >= 15
        for key in keys:
            setting = key.removeprefix("pengaduan_")
            readers = [n for n, fields in mounting.items() if setting in fields]
            assert readers, f"{key}: no process that mounts pengaduan-integrations reads it"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_what_a_pod_reads_builds_valid_production_settings(tree, rendered, overlay, tmp_path, monkeypatch):
    """The environment and the mounted files of every application pod, given to the settings: production, the
    operator's values (the secrets from the files alone), nothing a process would refuse to start on."""
    _, written = tree
    objects = rendered[overlay]
    public = by_kind(objects, "Ingress")["pengaduan"]["spec"]["rules"][0]["host"]
    for name, obj in app_workloads(objects).items():
        folder = tmp_path / name
        folder.mkdir()
        for file, content in _secret_files_of(obj, objects).items():
            (folder / file).write_text(content)
        for key in [k for k in os.environ if k.startswith("PENGADUAN_")]:
            monkeypatch.delenv(key)
        env = _env_of(obj, objects)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("PENGADUAN_SECRETS_DIR", str(folder))
        args = parsed(obj)
        cls = Settings
        if args.command in ("api", "worker"):
            cls = apps.load(SERVICE_SETTINGS[args.kind if args.command == "api" else registry.by_queue(args.kind).name])
        s = cls()
        assert s.environment == "production", name
        assert s.secret_key == written[overlay]["pengaduan_secret_key"], name
        assert KeyEncryptionKeys.from_json(s.privacy_keys or "").current, name
        assert s.database_url == written[overlay]["pengaduan_database_url"], name
        assert urlsplit(s.redis_url).hostname == "redis.internal", name
        assert s.public_base_url == f"https://{public}", name
        assert "development" not in env.values()


# ---------------------------------------------------------------------------------------------------------------
# probes, services and addresses
# ---------------------------------------------------------------------------------------------------------------


def _get_paths(app) -> set[str]:
    return {r.path for r in app.routes if isinstance(r, Route) and "GET" in (r.methods or ())}


@pytest.fixture(scope="module")
def api_paths() -> dict[str, set[str]]:
    paths = {kind: _get_paths(apps.load(apps.factory_for(kind))()) for kind in registry.api_kinds()}
    paths["gateway"] = _get_paths(apps.gateway({k: f"http://{k}-api:8000" for k in registry.api_kinds()}))
    return paths


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_http_processes_are_probed_on_paths_their_apps_serve_and_the_others_are_not_probed(
    rendered, api_paths, overlay
):
    for name, obj in app_workloads(rendered[overlay]).items():
        args = parsed(obj)
        (container,) = _pod_specs(obj)[0]["containers"]
        probes = {k: container.get(k) for k in ("startupProbe", "readinessProbe", "livenessProbe")}
        if args.command not in ("api", "gateway"):
            # workers, runners, the migration: nothing to probe (workers.yaml and runners.yaml say why)
            assert probes == dict.fromkeys(probes), name
            continue
        app = args.kind if args.command == "api" else "gateway"
        for kind, probe in probes.items():
            assert probe is not None, f"{name}: no {kind}"
            assert probe["httpGet"]["port"] == "http", name
            assert probe["httpGet"]["path"] in api_paths[app], f"{name}: {kind} {probe['httpGet']['path']} is no route"
        if args.command == "api":
            assert probes["readinessProbe"]["httpGet"]["path"] == "/healthz", name
    proxy = _pod_specs(by_kind(rendered[overlay], "Deployment")["proxy"])[0]["containers"][0]
    conf = (K8S / "base" / "proxy" / "nginx.conf").read_text()
    for kind in ("readinessProbe", "livenessProbe"):
        assert f"location = {proxy[kind]['httpGet']['path']} {{" in conf
        assert proxy[kind]["httpGet"]["port"] == "internal"


def test_liveness_never_depends_on_the_database():
    """A liveness probe on /healthz would restart every API while PostgreSQL is away (503), and their restarts'
    backoff would delay the recovery after it: only the dependency-free web /healthz may serve as both."""
    for obj in [
        o for o in yaml.safe_load_all((K8S / "base" / "apis.yaml").read_text()) if o and o["kind"] == "Deployment"
    ]:
        (container,) = obj["spec"]["template"]["spec"]["containers"]
        if obj["metadata"]["name"] != "web-api":
            assert container["livenessProbe"]["httpGet"]["path"] != "/healthz"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_address_a_process_is_given_is_a_service_port(rendered, overlay):
    objects = rendered[overlay]
    services = by_kind(objects, "Service")
    deployments = by_kind(objects, "Deployment")
    for name, service in services.items():
        (target,) = [d for d in deployments.values() if _selects(service["spec"]["selector"], _pod_labels(d))]
        names = {p["name"] for c in _pod_specs(target)[0]["containers"] for p in c.get("ports", [])}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= names, name
    for name, obj in app_workloads(objects).items():
        for variable, value in _env_of(obj, objects).items():
            if variable.endswith("_URL") and value.startswith("http://"):
                url = urlsplit(value)
                assert url.hostname in services, f"{name}: {variable}={value}"
                assert url.port in {p["port"] for p in services[url.hostname]["spec"]["ports"]}, f"{name}: {variable}"
    gateway = _env_of(deployments["gateway"], objects)
    assert {k for k in gateway if k.endswith("_URL") and k != "PENGADUAN_PUBLIC_BASE_URL"} == {
        f"PENGADUAN_{k.upper()}_URL" for k in registry.api_kinds()
    }
    assert _env_of(deployments["web-api"], objects)["PENGADUAN_WEB_API_URL"] == "http://proxy:8080"
    conf = (K8S / "base" / "proxy" / "nginx.conf").read_text()
    for kind in [*registry.api_kinds(), "gateway"]:
        host = "gateway" if kind == "gateway" else f"{kind}-api"
        assert f"server {host}:8000;" in conf and host in services


def _pod_labels(obj: dict) -> dict[str, str]:
    return obj["spec"]["template"]["metadata"]["labels"]


def _selects(selector: dict, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels/matchExpressions, or a Service's plain map) against labels."""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        value, op = labels.get(e["key"]), e["operator"]
        if (op == "In" and value not in e["values"]) or (op == "NotIn" and value in e["values"]):
            return False
        if (op == "Exists" and value is None) or (op == "DoesNotExist" and value is not None):
            return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# security, resources, disruption budgets
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_locked_down_and_sized(rendered, overlay):
    for name, obj in workloads(rendered[overlay]).items():
        pod = _pod_specs(obj)[0]
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["serviceAccountName"] == "pengaduan", name
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True and security["seccompProfile"]["type"] == "RuntimeDefault", name
        if name != "proxy":
            assert security["runAsUser"] == APP_UID and security["runAsGroup"] == APP_UID, name
        for c in pod["containers"]:
            cs = c["securityContext"]
            assert cs["allowPrivilegeEscalation"] is False, name
            assert cs["readOnlyRootFilesystem"] is True, name
            assert cs["capabilities"] == {"drop": ["ALL"]}, name
            assert set(c["resources"]["requests"]) == set(c["resources"]["limits"]) == {"cpu", "memory"}, name
            writable = {m["mountPath"] for m in c.get("volumeMounts", []) if not m.get("readOnly")}
            assert "/tmp" in writable, f"{name}: a read-only root needs a writable /tmp"
    namespace = next(iter(by_kind(rendered[overlay], "Namespace").values()))
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_scaling_disruption_and_leaders(rendered, overlay):
    objects = rendered[overlay]
    deployments = by_kind(objects, "Deployment")
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"]: h for h in by_kind(objects, "HorizontalPodAutoscaler").values()}
    keda_targets = {s["spec"]["scaleTargetRef"]["name"]: s for s in by_kind(objects, "ScaledObject").values()}
    assert set(hpa_targets) == {f"{k}-api" for k in registry.api_kinds()} | {"proxy"}
    assert set(keda_targets) == {f"worker-{q}" for q in registry.worker_kinds()}
    for name, hpa in hpa_targets.items():
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment" and name in deployments
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert "replicas" not in deployments[name]["spec"], f"{name}: `apply` would reset the autoscaler's count"
    # KEDA reads the Redis list of each queue the routing contract sends to
    lists = {s["spec"]["triggers"][0]["metadata"]["listName"]: name for name, s in keda_targets.items()}
    assert set(lists) == set(queues()) == set(registry.worker_kinds())
    auths = by_kind(objects, "TriggerAuthentication")
    secrets = by_kind(objects, "Secret")
    for name, scaled in keda_targets.items():
        assert parsed(deployments[name]).kind == scaled["spec"]["triggers"][0]["metadata"]["listName"]
        assert "replicas" not in deployments[name]["spec"]
        assert scaled["spec"]["minReplicaCount"] >= 1, "a queue always has a consumer"
        auth = auths[scaled["spec"]["triggers"][0]["authenticationRef"]["name"]]
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["key"] in secrets[ref["name"]]["data"], "KEDA's Secret by its exact name (no hash suffix)"
    for name in ("relay", "projections", "scheduler"):  # the advisory-lock leaders: one leads, one stands by
        assert deployments[name]["spec"]["replicas"] == 2
        assert name not in hpa_targets and name not in keda_targets
    budgets = list(by_kind(objects, "PodDisruptionBudget").values())
    for name, obj in deployments.items():
        (budget,) = [b for b in budgets if _selects(b["spec"]["selector"], _pod_labels(obj))]
        assert budget["spec"] == {"maxUnavailable": 1, "selector": budget["spec"]["selector"]}, name
    job = by_kind(objects, "Job")["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    first = {
        (o["kind"], o["metadata"]["name"])
        for o in objects
        if o["metadata"].get("labels", {}).get("pengaduan/apply-first") == "true"
    }
    pod = job["spec"]["template"]["spec"]
    # the namespace too: on a fresh cluster the first apply creates it (kubectl would refuse the rest without it)
    needed = {
        ("Job", "migrate"),
        ("ServiceAccount", pod["serviceAccountName"]),
        ("Namespace", job["metadata"]["namespace"]),
    }
    needed |= {("ConfigMap", s["configMapRef"]["name"]) for s in pod["containers"][0]["envFrom"]}
    needed |= {
        ("Secret", s["secret"]["name"]) for v in pod["volumes"] if "projected" in v for s in v["projected"]["sources"]
    }
    assert needed == first, "`kubectl apply -l pengaduan/apply-first=true` must bring exactly what the Job needs"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_serves_the_public_address_over_tls_through_the_proxy(rendered, overlay):
    objects = rendered[overlay]
    (ingress,) = by_kind(objects, "Ingress").values()
    (rule,) = ingress["spec"]["rules"]
    (tls,) = ingress["spec"]["tls"]
    assert rule["host"] in tls["hosts"] and tls["secretName"]
    assert "example" not in rule["host"]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/", "Prefix")
    backend = path["backend"]["service"]
    proxy = by_kind(objects, "Service")[backend["name"]]
    assert backend["port"]["name"] == "edge" and any(p["name"] == "edge" for p in proxy["spec"]["ports"])
    env = by_kind(objects, "ConfigMap")
    (public,) = [
        c["data"]["PENGADUAN_PUBLIC_BASE_URL"] for c in env.values() if "PENGADUAN_PUBLIC_BASE_URL" in c.get("data", {})
    ]
    assert public == f"https://{rule['host']}"


# ---------------------------------------------------------------------------------------------------------------
# network policies: a small evaluator (ingress and egress, pod and namespace selectors, ports)
# ---------------------------------------------------------------------------------------------------------------

NAMESPACE_LABELS = {
    "ingress-nginx": {"kubernetes.io/metadata.name": "ingress-nginx"},
    "monitoring": {"kubernetes.io/metadata.name": "monitoring"},
    "kube-system": {"kubernetes.io/metadata.name": "kube-system"},
    "other": {"kubernetes.io/metadata.name": "other"},
}


def _peer_matches(peer: dict, labels: dict, namespace: str, own: str) -> bool:
    if "ipBlock" in peer:
        return False  # no pod address in this evaluator
    ns_labels = NAMESPACE_LABELS.get(namespace, {"kubernetes.io/metadata.name": namespace})
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], ns_labels):
            return False
    elif namespace != own:
        return False
    return "podSelector" not in peer or _selects(peer["podSelector"], labels)


def _port_matches(rule: dict, port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    return not ports or any(p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports)


def _allowed_by(
    policies: list[dict], direction: str, pod: dict, own: str, peer: dict, peer_ns: str, port: int, protocol: str
) -> bool:
    """Whether ``direction`` (Ingress/Egress) traffic of ``pod`` with ``peer`` is allowed by ``policies``."""
    selecting = [
        p for p in policies if _selects(p["spec"]["podSelector"], pod) and direction in p["spec"]["policyTypes"]
    ]
    if not selecting:
        return True  # isolated in no direction: everything allowed
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in selecting:
        for rule in policy["spec"].get(key, []):
            peers = rule.get(peers_key)
            if (not peers or any(_peer_matches(x, peer, peer_ns, own) for x in peers)) and _port_matches(
                rule, port, protocol
            ):
                return True
    return False


class Network:
    def __init__(self, objects: list[dict]) -> None:
        self.policies = list(by_kind(objects, "NetworkPolicy").values())
        self.namespace = next(iter(by_kind(objects, "Namespace")))
        self.pods = {name: _pod_labels(d) for name, d in by_kind(objects, "Deployment").items()}
        self.pods["migrate"] = by_kind(objects, "Job")["migrate"]["spec"]["template"]["metadata"]["labels"]
        self.pods["postgresql"] = {"app.kubernetes.io/name": "postgresql"}
        self.pods["redis"] = {"app.kubernetes.io/name": "redis"}

    def can(self, source: str, target: str, port: int, protocol: str = "TCP") -> bool:
        """``source``/``target``: a pod of ours by name, "<namespace>:" for any pod of another namespace, or
        "internet" (an address outside the cluster)."""
        src_ns, src = (source.rstrip(":"), {}) if source.endswith(":") else (self.namespace, self.pods.get(source))
        if target == "internet":
            return src is not None and src_ns == self.namespace and self._egress_anywhere(src, port)
        dst_ns, dst = (
            (target.rstrip(":"), {"k8s-app": "kube-dns"})
            if target.endswith(":")
            else (self.namespace, self.pods[target])
        )
        if src_ns == self.namespace and not _allowed_by(
            self.policies, "Egress", src, self.namespace, dst, dst_ns, port, protocol
        ):
            return False
        if dst_ns != self.namespace:
            return True
        return _allowed_by(self.policies, "Ingress", dst, self.namespace, src, src_ns, port, protocol)

    def _egress_anywhere(self, pod: dict, port: int) -> bool:
        selecting = [
            p for p in self.policies if _selects(p["spec"]["podSelector"], pod) and "Egress" in p["spec"]["policyTypes"]
        ]
        return not selecting or any(
            not rule.get("to") and _port_matches(rule, port, "TCP")
            for p in selecting
            for rule in p["spec"].get("egress", [])
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_let_only_the_intended_connections_through(rendered, overlay):
    net = Network(rendered[overlay])
    api_names = [f"{k}-api" for k in registry.api_kinds()]
    app_pods = [n for n, labels in net.pods.items() if labels.get("pengaduan/app") == "true"]
    assert len(app_pods) == len(expected_processes())
    # from outside: only the Ingress controller, only to nginx's edge port
    assert net.can("ingress-nginx:", "proxy", 8443)
    assert not net.can("ingress-nginx:", "proxy", 8080)
    assert not net.can("other:", "proxy", 8443)
    for api in [*api_names, "gateway"]:
        assert net.can("proxy", api, 8000), api
        assert not net.can("ingress-nginx:", api, 8000), api
        assert not net.can("other:", api, 8000), api
        assert not net.can("worker-notify", api, 8000), api  # workers have no business with the APIs
    for api in api_names:
        assert net.can("gateway", api, 8000), api
    assert net.can("web-api", "proxy", 8080) and not net.can("web-api", "proxy", 8443)
    assert net.can("workflow-api", "letters-api", 8000) and not net.can("dashboard-api", "letters-api", 8000)
    assert net.can("projections", "intake-api", 8000) and net.can("scheduler", "intake-api", 8000)
    assert not net.can("relay", "intake-api", 8000)
    # the databases: only the application's pods (and KEDA to Redis); never nginx, never another namespace
    for pod in app_pods:
        assert net.can(pod, "postgresql", 5432) and net.can(pod, "redis", 6379), pod
        assert net.can(pod, "internet", 5432), f"{pod}: the managed PostgreSQL is outside the cluster"
    assert not net.can("proxy", "postgresql", 5432) and not net.can("proxy", "redis", 6379)
    assert not net.can("proxy", "internet", 5432) and not net.can("proxy", "internet", 443)
    assert not net.can("other:", "postgresql", 5432) and not net.can("other:", "redis", 6379)
    assert net.can("keda:", "redis", 6379) and not net.can("keda:", "postgresql", 5432)
    assert net.can("proxy", "kube-system:", 53, "UDP")
    # Prometheus reaches every process's /metrics, and nothing else does
    for pod in app_pods:
        port = 8000 if pod in [*api_names, "gateway"] else 9100
        assert net.can("monitoring:", pod, port), pod
    assert not net.can("other:", "worker-letters", 9100)


# ---------------------------------------------------------------------------------------------------------------
# nginx: deploy/nginx.conf converted, accepted by nginx, and behaving as the edge behind an Ingress
# ---------------------------------------------------------------------------------------------------------------


def test_the_proxy_configuration_is_deploy_nginx_conf_converted():
    source = (ROOT / "deploy" / "nginx.conf").read_text()
    assert (K8S / "base" / "proxy" / "nginx.conf").read_text() == nginx_for_k8s.render(source), (
        "run: python deploy/k8s/nginx_for_k8s.py > deploy/k8s/base/proxy/nginx.conf"
    )
    assert (K8S / "base" / "proxy" / "internal-allow.conf").read_text() == (
        ROOT / "deploy" / "internal-allow.conf"
    ).read_text()
    with pytest.raises(ValueError, match="changed shape"):
        nginx_for_k8s.render(source.replace("listen 443 ssl;", "listen 443 ssl http2;"))


def _nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


class _Echo(BaseHTTPRequestHandler):
    """An upstream that answers with the headers it received."""

    def do_GET(self) -> None:
        body = json.dumps(
            {"service": self.server.service_name, "path": self.path, "headers": dict(self.headers)}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def _k8s_nginx(tmp: Path) -> Iterator[tuple[int, int]]:
    """nginx with base/proxy/nginx.conf on free ports, the Services replaced by local echo servers."""
    binary = _nginx_binary()
    servers = {}
    for host in [*(f"{k}-api" for k in registry.api_kinds()), "gateway"]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        server.service_name = host
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers[host] = server
    edge, internal = free_port(), free_port()
    text = (K8S / "base" / "proxy" / "nginx.conf").read_text().replace("/tmp/nginx", f"{tmp}/nginx")
    for host, server in servers.items():
        text = text.replace(f"server {host}:8000;", f"server 127.0.0.1:{server.server_address[1]};")
    text = text.replace("listen 8443;", f"listen 127.0.0.1:{edge};").replace(
        "listen 8080;", f"listen 127.0.0.1:{internal};"
    )
    text = text.replace("8443    https;", f"{edge}    https;")
    for name in ("internal-allow.conf", "real-ip.conf"):
        shutil.copy(K8S / "base" / "proxy" / name, tmp / name)
    with open(tmp / "real-ip.conf", "a") as f:
        f.write("set_real_ip_from 127.0.0.1;  # the test's stand-in for the Ingress controller\n")
    for name in ("internal-allow.conf", "real-ip.conf"):
        text = text.replace(f"/etc/nginx/pengaduan/{name}", str(tmp / name))
    (tmp / "nginx.conf").write_text(text)
    check = subprocess.run(  # noqa: PLW1510
        [binary, "-t", "-q", "-e", "stderr", "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr
    log = open(tmp / "error.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [binary, "-e", "stderr", "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                for port in (edge, internal):
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.05)
        yield edge, internal
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        for s in servers.values():
            s.shutdown()
            s.server_close()


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return response.status, dict(response.getheaders()), (json.loads(body) if body.startswith(b"{") else {})
    finally:
        conn.close()


@pytest.mark.skipif(_nginx_binary() is None, reason="no nginx binary here: the converted configuration is not run")
def test_the_converted_nginx_treats_the_ingress_as_the_edge(tmp_path):
    """Through the edge port (the test speaks as the Ingress controller: 127.0.0.1, added to real-ip.conf's
    trusted ranges) the apps are told https and the client's own address, which the allow-list also judges."""
    with _k8s_nginx(tmp_path) as (edge, internal):
        # the controller reports a public client
        status, headers, echo = _get(edge, "/v1/track/ABC", {"X-Forwarded-For": "203.0.113.7", "Host": "p.example"})
        assert status == 200 and echo["service"] == "intake-api"
        assert echo["headers"]["X-Forwarded-Proto"] == "https"
        assert echo["headers"]["X-Forwarded-For"] == "203.0.113.7"
        assert "max-age=31536000" in headers["Strict-Transport-Security"]
        # the detailed health and the docs: refused to that public client, though the controller is private
        status, _, body = _get(edge, "/healthz", {"X-Forwarded-For": "203.0.113.7"})
        assert status == 403 and body["code"] == "forbidden"
        status, _, body = _get(edge, "/healthz", {"X-Forwarded-For": "10.1.2.3"})
        assert status == 200 and body["service"] == "gateway"
        # the web app's internal door: plain http, its visitor's chain kept
        status, _, echo = _get(internal, "/v1/track/ABC", {"X-Forwarded-For": "198.51.100.4"})
        assert echo["headers"]["X-Forwarded-Proto"] == "http"
        assert echo["headers"]["X-Forwarded-For"].split(", ")[0] == "198.51.100.4"
