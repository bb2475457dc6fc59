"""The chart without a cluster: `helm lint`, `helm template` for every values file, the schema, the
`fail` checks, and what the rendered objects must say (restricted pods, least-privilege RBAC, peering,
namespaced mode, sample OcrService, metrics, helm test hook)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.chart_tools import (
    CHART_DIR,
    KUBE_VERSION,
    REPO_ROOT,
    SCENARIOS,
    VALUES_FILES,
    Manifest,
    helm_binary,
    one,
    operator_container,
    operator_env,
    pod_specs,
    render,
    render_error,
    render_notes,
    run_helm,
    select,
    values_args,
)

CHART = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
VALUES = yaml.safe_load((CHART_DIR / "values.yaml").read_text())


@pytest.fixture(scope="module", params=SCENARIOS)
def scenario(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def rendered(scenario: str) -> list[Manifest]:
    return render(scenario)


# ---- lint, metadata ----------------------------------------------------------------------------


def test_chart_metadata() -> None:
    assert CHART["apiVersion"] == "v2"
    assert CHART["name"] == "ocr-crnn"
    assert CHART["appVersion"] == "0.1.0"


def test_lint(scenario: str) -> None:
    result = run_helm("lint", "--strict", "--kube-version", KUBE_VERSION, str(CHART_DIR), *values_args(scenario))
    assert "0 chart(s) failed" in result.stdout, result.stdout


def test_built_helm_defaults_to_cluster_kube_version(tmp_path: Path) -> None:
    """tests/cluster/build.sh links the cluster's Kubernetes version into helm as its default
    Capabilities.KubeVersion (a helm built from source without it says v1.20, below the chart's
    kubeVersion), so a render without --kube-version targets the cluster the tests run."""
    if Path(helm_binary()) != REPO_ROOT / ".tools" / "bin" / "helm":
        pytest.skip("only .tools/bin/helm (tests/cluster/build.sh) is built with the cluster's kube version")
    chart = tmp_path / "probe"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (chart / "templates" / "probe.yaml").write_text("kubeVersion: {{ .Capabilities.KubeVersion }}\n")
    major, minor = KUBE_VERSION.removeprefix("v").split(".")[:2]
    assert yaml.safe_load(run_helm("template", str(chart)).stdout) == {"kubeVersion": f"v{major}.{minor}.0"}
    run_helm("template", "ocr", str(CHART_DIR))  # the chart's kubeVersion constraint holds without --kube-version


def test_every_value_is_documented() -> None:
    """Every leaf of values.yaml has a comment right above it, or sits inside a commented block
    (e.g. `resources`, `sample.spec`: examples of pass-through objects)."""
    lines = (CHART_DIR / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    undocumented = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")) or ":" not in stripped:
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        documented = i > 0 and lines[i - 1].strip().startswith("#")
        key, _, rest = stripped.partition(":")
        if rest.strip():  # a leaf
            if not documented and not any(doc for _, doc in stack):
                undocumented.append(f"values.yaml:{i + 1}: {key}")
        else:
            stack.append((indent, documented))
    assert not undocumented, "values without a comment:\n" + "\n".join(undocumented)


# ---- schema and contradictions ---------------------------------------------------------------


def test_schema_rejects_unknown_top_level_key() -> None:
    err = render_error("default", "--set", "operatr.replicas=2")
    assert "operatr" in err and "additional properties" in err.lower(), err


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ("operator.replicas=two", "replicas"),
        ("operator.logLevel=verbose", "logLevel"),
        ("operator.image.pullPolicy=Sometimes", "pullPolicy"),
        ("operator.watchNamespaces=team-a", "watchNamespaces"),
        ("sample.enabled=yes", "enabled"),
        ("metrics.serviceMonitor.interval=30", "interval"),
        ("operator.healthPort=80", "healthPort"),
        ("operator.peering.wrong=true", "wrong"),
        ("operator.extraArgs={--verbose}", "extraArgs"),
    ],
)
def test_schema_rejects_wrong_types(setting: str, field: str) -> None:
    flag = "--set-string" if setting.endswith(("=two", "=yes", "=30")) else "--set"
    err = render_error("default", flag, setting)
    assert field in err, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "operator.replicas=2"], "needs operator.peering.enabled=true"),
        (
            ["--set", "operator.watchNamespaces={team-a}", "--set", "sample.enabled=true"],
            "is not in operator.watchNamespaces",
        ),
        (["--set", "operator.watchNamespaces={a,a}"], "lists a namespace twice"),
        (["--set", "serviceAccount.create=false"], "serviceAccount.name is required"),
        (
            [
                "--set",
                "sample.enabled=true",
                "--set",
                "sample.spec.autoscaling.enabled=true",
                "--set",
                "sample.spec.autoscaling.minReplicas=5",
                "--set",
                "sample.spec.autoscaling.maxReplicas=2",
            ],
            "exceeds maxReplicas",
        ),
        (
            ["--set", "sample.enabled=true", "--set", "sample.spec.ingress.enabled=true"],
            "needs sample.spec.ingress.host",
        ),
    ],
)
def test_contradictory_values_fail(args: list[str], message: str) -> None:
    assert message in render_error("default", *args)


# ---- every scenario --------------------------------------------------------------------------


def test_every_object_is_labelled(rendered: list[Manifest]) -> None:
    for m in rendered:
        labels = m["metadata"].get("labels", {})
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by"):
            assert key in labels, f"{m['kind']}/{m['metadata']['name']} lacks label {key}"
        assert labels["helm.sh/chart"] == f"ocr-crnn-{CHART['version']}"


def test_pods_pass_restricted_pod_security(rendered: list[Manifest]) -> None:
    """What Pod Security "restricted" demands, checked on every pod the chart renders (the cluster
    tests also have the API server's admission reject any violation)."""
    for where, spec in pod_specs(rendered):
        pod_sc = spec.get("securityContext", {})
        assert pod_sc.get("runAsNonRoot") is True, where
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), where
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in sc["capabilities"], where
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert container.get("resources", {}).get("limits"), f"{where}: no resource limits"
        for volume in spec.get("volumes", []):
            assert "hostPath" not in volume, where


def test_rbac_is_least_privilege(rendered: list[Manifest]) -> None:
    for role in select(rendered, "ClusterRole") + select(rendered, "Role"):
        for rule in role["rules"]:
            name = f"{role['kind']}/{role['metadata']['name']}"
            assert "*" not in rule["verbs"] and "*" not in rule["resources"], name
            assert "*" not in rule["apiGroups"], name
            assert not {"escalate", "bind", "impersonate", "deletecollection"} & set(rule["verbs"]), name
            assert "secrets" not in rule["resources"], f"{name} must not read Secrets"
            if "pods" in rule["resources"] or "pods/proxy" in rule["resources"]:
                # the canary analysis only: list the server pods, GET their /metrics through the proxy
                allowed = {"pods": {"list"}, "pods/proxy": {"get"}}
                for resource in rule["resources"]:
                    assert set(rule["verbs"]) <= allowed.get(resource, set()), f"{name}: {resource} {rule['verbs']}"
            assert not {"pods/exec", "pods/attach", "pods/portforward", "pods/eviction"} & set(rule["resources"]), name


def test_operator_deployment(rendered: list[Manifest], scenario: str) -> None:
    deployment = one(rendered, "Deployment")
    container = operator_container(rendered)
    assert container["image"].startswith("ghcr.io/ocr-crnn/ocr-operator:0.1.0")
    probe = container["livenessProbe"]["httpGet"]
    assert probe == {"path": "/healthz", "port": "health"}
    assert container["ports"] == [{"name": "health", "containerPort": 8081, "protocol": "TCP"}]
    assert container["command"] == ["python", "-m", "ocr_operator"]
    env = operator_env(rendered)
    assert env["LIVENESS_ENDPOINT"] == "http://0.0.0.0:8081/healthz"
    assert env["POD_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    replicas = deployment["spec"]["replicas"]
    if "PEERING_NAME" not in env:  # standalone: one pod, and never two at once during a rollout
        assert replicas == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    else:
        assert env["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
        assert "OPERATOR_PRIORITY" not in env, "a fixed priority would be the same in every replica"
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    sa = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    assert one(rendered, "ServiceAccount", sa)


# ---- modes -----------------------------------------------------------------------------------


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def watched_and_peering(manifests: list[Manifest]) -> tuple[str, str | None]:
    env = operator_env(manifests)
    return env["WATCH_NAMESPACES"], env.get("PEERING_NAME")


def test_cluster_wide_mode_by_default() -> None:
    manifests = render("default")
    assert watched_and_peering(manifests) == ("", None)  # cluster-wide, standalone
    assert not select(manifests, "Role") and not select(manifests, "RoleBinding")
    operator_role = one(manifests, "ClusterRole", "ocr-ocr-crnn-operator")
    kinds = {(g, r) for rule in operator_role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert kinds == {
        ("ocr-crnn.io", "ocrservices"),
        ("ocr-crnn.io", "ocrservices/status"),
        ("ocr-crnn.io", "ocrservices/finalizers"),
        ("apps", "deployments"),
        ("", "services"),
        ("", "configmaps"),
        ("networking.k8s.io", "ingresses"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("", "persistentvolumeclaims"),
        ("keda.sh", "scaledobjects"),
        ("gateway.networking.k8s.io", "httproutes"),
        ("", "pods"),
        ("", "pods/proxy"),
        ("", "events"),
    }
    binding = one(manifests, "ClusterRoleBinding", "ocr-ocr-crnn-operator")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ocr-ocr-crnn", "namespace": "ocr-system"}]
    discovery = one(manifests, "ClusterRole", "ocr-ocr-crnn-discovery")
    assert discovery["rules"] == [
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["list", "watch"]}
    ]
    assert not select(manifests, "ClusterKopfPeering") and not select(manifests, "KopfPeering")
    assert not select(manifests, "OcrService"), "no sample unless asked for"
    assert not select(manifests, "Pod"), "no helm test without a target"


def test_namespaced_mode() -> None:
    manifests = render("namespaced")
    watched = ["ocr-chart-team-a", "ocr-chart-team-b"]
    assert watched_and_peering(manifests) == (",".join(watched), "ocr-ocr-crnn")
    roles = select(manifests, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == watched
    assert sorted(b["metadata"]["namespace"] for b in select(manifests, "RoleBinding")) == watched
    for role in roles:
        resources = {r for rule in role["rules"] for r in rule["resources"]}
        assert "kopfpeerings" in resources and "ocrservices" in resources
    # Nothing cluster-wide but the read-only discovery role (CRDs and namespaces, list/watch).
    (cluster_role,) = select(manifests, "ClusterRole")
    assert cluster_role["metadata"]["name"].endswith("-discovery")
    for rule in cluster_role["rules"]:
        assert rule["verbs"] == ["list", "watch"]
    assert {r for rule in cluster_role["rules"] for r in rule["resources"]} == {
        "customresourcedefinitions",
        "namespaces",
    }
    peerings = select(manifests, "KopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in peerings) == watched
    assert not select(manifests, "ClusterKopfPeering")
    sample = one(manifests, "OcrService")
    assert sample["metadata"]["namespace"] == "ocr-chart-team-a"


def test_peering_with_replicas() -> None:
    manifests = render("ha")
    deployment = one(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert watched_and_peering(manifests) == ("", "ocr-peers")
    # Distinct priorities: derived from the pod IP, which the downward API provides.
    assert operator_env(manifests)["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert one(manifests, "ClusterKopfPeering", "ocr-peers")
    role = one(manifests, "ClusterRole", "ocr-ocr-crnn-operator")
    peering_rule = {
        "apiGroups": ["kopf.dev"],
        "resources": ["clusterkopfpeerings"],
        "verbs": ["get", "list", "watch", "patch"],
    }
    assert peering_rule in role["rules"]
    assert not select(manifests, "ClusterRole", "ocr-ocr-crnn-discovery"), "rbac.discovery=false"
    anti = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]["topologyKey"] == (
        "kubernetes.io/hostname"
    )


def test_peering_priority_is_distinct_per_pod_ip() -> None:
    """The contract the chart relies on: with POD_IP (and no OPERATOR_PRIORITY) in the environment,
    `python -m ocr_operator` gives each replica its own priority."""
    main = pytest.importorskip("ocr_operator.__main__")
    priorities = {main.peering_priority({"POD_IP": ip}) for ip in ("10.244.0.5", "10.244.1.5", "fd00::1:5")}
    assert len(priorities) == 3 and all(0 <= p < 2**31 for p in priorities)


# ---- sample, tests, metrics ------------------------------------------------------------------


@pytest.mark.parametrize("scenario_name", ["ingress", "autoscaling-off", "autoscaling-on", "sample-metrics"])
def test_sample_ocrservice_passes_spec_through(scenario_name: str) -> None:
    manifests = render(scenario_name)
    sample = one(manifests, "OcrService")
    assert sample["apiVersion"] == "ocr-crnn.io/v1alpha1"
    values = yaml.safe_load(VALUES_FILES[scenario_name].read_text())
    # Helm merges the file's sample.spec into the chart's default one (maps merge key by key).
    expected_spec = deep_merge(VALUES["sample"]["spec"], values["sample"].get("spec", {}))
    assert sample["spec"] == expected_spec
    assert sample["metadata"]["name"] == values["sample"].get("name", VALUES["sample"]["name"])


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def test_helm_test_pod_calls_the_sample_health() -> None:
    manifests = render("autoscaling-off")
    pod = one(manifests, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    # Gone once it passed (helm uninstall does not delete hook Pods); a failed one stays for its logs.
    assert pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    env = env_of(pod["spec"]["containers"][0])
    assert env["HEALTH_URL"] == "http://ocr-fixed.ocr-system.svc:9000/health"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["automountServiceAccountToken"] is False


def test_helm_test_pod_for_an_existing_ocrservice() -> None:
    manifests = render("default", "--set", "tests.target.name=invoices", "--set", "tests.target.namespace=team-a")
    env = env_of(one(manifests, "Pod")["spec"]["containers"][0])
    assert env["HEALTH_URL"] == "http://invoices.team-a.svc:80/health"


def test_helm_test_script_compiles() -> None:
    pod = one(render("ingress"), "Pod")
    compile(pod["spec"]["containers"][0]["args"][0], "helm-test", "exec")


def test_service_monitor_only_where_its_crd_exists() -> None:
    assert not select(render("sample-metrics"), "ServiceMonitor")
    manifests = render("sample-metrics", "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor")
    monitor = one(manifests, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["namespaceSelector"] == {"any": True}
    assert monitor["spec"]["endpoints"][0] | {"interval": None, "scrapeTimeout": None} == {
        "port": "http",
        "path": "/metrics",
        "interval": None,
        "scrapeTimeout": None,
    }
    # The labels the operator puts on each OcrService's Service (builders/meta.py), read from its source.
    meta = (REPO_ROOT / "operator" / "ocr_operator" / "builders" / "meta.py").read_text()
    assert 'COMPONENT = "ocr-server"' in meta and 'MANAGED_BY = "ocr-operator"' in meta
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/component": "ocr-server",
        "app.kubernetes.io/managed-by": "ocr-operator",
    }


def test_dashboard_configmap() -> None:
    manifests = render("sample-metrics")
    configmap = one(manifests, "ConfigMap", "ocr-ocr-crnn-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["ocr-server.json"])
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("requests", "stage", "in-flight", "errors"):
        assert topic in titles
    for panel in dashboard["panels"]:
        assert panel["targets"] and all(t["expr"] for t in panel["targets"])
    # Every metric the dashboard queries is one the server exports (ocr_server/metrics.py).
    exported = set(re.findall(r'"(ocr_[a-z_]+)"', (REPO_ROOT / "ocr_server" / "metrics.py").read_text()))
    queried = {
        re.sub(r"_(bucket|sum|count)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(ocr_[a-z_]+)\{", target["expr"])
    }
    assert queried and queried <= exported, f"not exported by the server: {queried - exported}"


def test_notes_say_how_to_watch_and_reach_the_service() -> None:
    notes = render_notes("ingress")
    assert "kubectl -n ocr-system get ocrservices -w" in notes
    assert "logs deployment/ocr-ocr-crnn" in notes
    assert "port-forward service/ocr-public 8080:8080" in notes
    assert "https://ocr.example.test/api/v1/ocr" in notes
    assert "helm test ocr -n ocr-system" in notes


def test_notes_without_sample_show_how_to_create_one() -> None:
    notes = render_notes("default", "--set", "metrics.serviceMonitor.enabled=true")
    assert "kind: OcrService" in notes and "kubectl get ocrservices -A -w" in notes
    assert "no monitoring.coreos.com/v1" in notes, "says why no ServiceMonitor was made"
    assert "ServiceMonitor" not in render_notes(
        "default",
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--api-versions",
        "monitoring.coreos.com/v1/ServiceMonitor",
    )


@pytest.mark.parametrize("scenario_name", ["default", "namespaced", "ha"])
def test_operator_role_grants_exactly_what_the_operator_uses(scenario_name: str) -> None:
    """The operator's (Cluster)Role is operator/ocr_operator/permissions.py, verb for verb: nothing
    missing (the operator would fail with 403) and nothing more (least privilege)."""
    permissions = pytest.importorskip("ocr_operator.permissions")
    manifests = render(scenario_name)
    roles = select(manifests, "ClusterRole", "ocr-ocr-crnn-operator") + select(manifests, "Role")
    assert roles
    for role in roles:
        granted = {p for p in permissions.parse_rules(role["rules"]) if p[0] != "kopf.dev"}  # peering: kopf's
        missing, extra = permissions.REQUIRED - granted, granted - permissions.REQUIRED
        assert not missing and not extra, f"{role['kind']}: missing {sorted(missing)}, not used {sorted(extra)}"


def test_bundled_models_reach_the_operator() -> None:
    catalog = pytest.importorskip("ocr_operator.catalog")
    env = operator_env(render("default"))
    parsed = catalog.ModelCatalog.parse(env["BUNDLED_MODELS"])
    shipped = {
        *(f"crnn-en-{v}" for v in ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0")),
        *(f"crnn-zh-{v}" for v in ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0", "1.7.0")),
    }
    assert parsed.images["ghcr.io/ocr-crnn/ocr-server:0.1.0"] == shipped
    # The chart's list is what the server image really bundles (docker/server.Dockerfile copies models/).
    bundled = {p.name for p in (REPO_ROOT / "models").glob("crnn-*") if p.is_dir()}
    assert bundled == shipped
