"""The objects `helm template` renders: valid, wired to the values, safe to run.

Kubernetes objects are validated against the JSON schemas that `kubernetes-validate` ships, in
strict mode (unknown fields are errors), for the oldest Kubernetes the chart supports (1.30,
Chart.yaml's kubeVersion) and the newest the package carries (1.37). Strimzi and
prometheus-operator objects have no schema there; they are checked against the required fields
their documentation gives (prometheus-operator's below, Strimzi's in test_chart_kafka.py).
"""

from __future__ import annotations

import base64
import functools
import re

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

from .conftest import CHART, RELEASE, Chart, Rendered, check_documented, ci, fullname

pytestmark = pytest.mark.helm

KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
CRD_GROUPS = ("kafka.strimzi.io/", "monitoring.coreos.com/")
SERVICES = ("downloader", "bot", "dbservice")
CHART_META = yaml.safe_load((CHART / "Chart.yaml").read_text())


@pytest.fixture(scope="module")
def kube_validate():
    """kubernetes_validate.validate, with its schema files parsed once instead of per call
    (it re-reads a multi-megabyte _definitions.json for every object otherwise)."""
    original = kubernetes_validate.utils.schema_contents
    kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(original)
    yield kubernetes_validate.validate
    kubernetes_validate.utils.schema_contents = original


# ---- Kubernetes schemas --------------------------------------------------------------------


def test_strict_validation_rejects_an_unknown_field(kube_validate):
    # The check below is only worth something if strict mode really rejects mistakes.
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicaz": 2, "selector": {}, "template": {}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kube_validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_kubernetes_object_is_valid(rendered: Rendered, kube_validate, version):
    core = [o for o in rendered.objects if not o["apiVersion"].startswith(CRD_GROUPS)]
    assert core
    errors = []
    for obj in core:
        try:
            kube_validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(map(str, error.path))
            errors.append(f"{obj['kind']} {obj['metadata']['name']}: {error.message} at {where}")
    assert not errors, "\n".join(errors)


# ---- prometheus-operator objects -----------------------------------------------------------

# Required fields of monitoring.coreos.com/v1, written from prometheus-operator's CRDs
# (example/prometheus-operator-crd/, and the OpenShift "Monitoring APIs" reference):
# - PodMonitor (monitoring.coreos.com_podmonitors.yaml, operator 0.91.0): `spec` is required and
#   spec.selector is required; podMetricsEndpoints[].port is a container port *name* (string);
# - PrometheusRule (monitoring.coreos.com_prometheusrules.yaml, operator 0.82.2): `spec` is
#   required; each spec.groups[] requires `name` (minLength 1), each rules[] requires `expr`;
#   `for` is a Prometheus duration; a rule has exactly one of `alert` and `record`.
MONITORING_REQUIRED = yaml.safe_load(r"""
_duration: &duration {type: string}
PodMonitor:
  required: [spec]
  properties:
    spec:
      type: object
      required: [selector]
      properties:
        selector: {type: object}
        podMetricsEndpoints:
          type: array
          minItems: 1
          items:
            type: object
            required: [port]
            properties:
              port: {type: string}
              path: {type: string}
              interval: *duration
PrometheusRule:
  required: [spec]
  properties:
    spec:
      type: object
      required: [groups]
      properties:
        groups:
          type: array
          minItems: 1
          items:
            type: object
            required: [name, rules]
            properties:
              name: {type: string, minLength: 1}
              rules:
                type: array
                minItems: 1
                items:
                  type: object
                  required: [expr]
                  properties:
                    for: *duration
                  oneOf:
                    - required: [alert]
                    - required: [record]
""")
# The CRDs' duration pattern (an alias above: set once, used by every `*duration`).
MONITORING_REQUIRED["_duration"]["pattern"] = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)


def test_monitoring_objects_only_when_enabled(rendered: Rendered):
    kinds = {o["kind"] for o in rendered.objects}
    dashboards = [
        c
        for c in rendered.of_kind("ConfigMap")
        if c["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    enabled = rendered.values["monitoring"]["enabled"]
    assert ("PodMonitor" in kinds) is enabled
    assert ("PrometheusRule" in kinds) is enabled
    assert bool(dashboards) is enabled


def test_monitoring_objects_have_their_documented_required_fields(chart: Chart):
    rendered = chart.render(ci("monitoring"))
    release = rendered.values["monitoring"]["release"]
    monitoring = [
        o for o in rendered.objects if o["apiVersion"].startswith("monitoring.coreos.com/")
    ]
    assert sorted(o["kind"] for o in monitoring) == ["PodMonitor", "PrometheusRule"]
    for obj in monitoring:
        assert obj["apiVersion"] == "monitoring.coreos.com/v1"
        check_documented(obj, MONITORING_REQUIRED[obj["kind"]])
        assert obj["metadata"]["labels"]["release"] == release

    # The PodMonitor selects exactly the three services, on a port they expose.
    (monitor,) = rendered.of_kind("PodMonitor")
    selector = monitor["spec"]["selector"]
    scraped = [w for w in rendered.workloads() if _selects(selector, _pod_labels(w))]
    assert sorted(w["metadata"]["name"] for w in scraped) == sorted(map(fullname, SERVICES))
    for workload in scraped:
        ports = {
            p["name"]
            for c in workload["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            assert endpoint["port"] in ports

    # The PrometheusRule is the plain rules file that promtool checks (tests/observability),
    # shipped as it is; its service-down alert selects the job the PodMonitor sets.
    (rule,) = rendered.of_kind("PrometheusRule")
    rules_file = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    assert rule["spec"] == rules_file
    alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    (job,) = [r["replacement"] for r in endpoint["relabelings"] if r["targetLabel"] == "job"]
    assert re.fullmatch(r'up\{job="(.*)"\} == 0', alerts["KafkatradeServiceDown"])[1] == job


def test_dashboard_configmap_ships_the_dashboard_files(chart: Chart):
    rendered = chart.render(ci("monitoring"))
    (configmap,) = [
        c
        for c in rendered.of_kind("ConfigMap")
        if c["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    files = sorted((CHART / "files" / "dashboards").glob("*.json"))
    assert files
    assert sorted(configmap["data"]) == [f.name for f in files]
    for path in files:
        assert configmap["data"][path.name] == path.read_text()
    exprs = " ".join(
        t["expr"] for p in yaml.safe_load(files[0].read_text())["panels"] for t in p["targets"]
    )
    for metric in (
        "kafkatrade_messages_consumed_total",
        "kafkatrade_consumer_lag",
        "kafkatrade_orders_total",
    ):
        assert metric in exprs


def _pod_labels(workload: dict) -> dict:
    return workload["spec"]["template"]["metadata"]["labels"]


def _selects(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        present = labels.get(expression["key"])
        if expression["operator"] == "In" and present not in expression["values"]:
            return False
        if expression["operator"] == "NotIn" and present in expression["values"]:
            return False
    return True


# ---- replicas follow partitions ------------------------------------------------------------

INPUT_TOPIC = {"downloader": "stocks", "bot": "quotes", "dbservice": "quotes"}


def test_replicas_equal_the_input_topic_partitions(rendered: Rendered):
    values = rendered.values
    for service in SERVICES:
        deployment = rendered.named("Deployment", fullname(service))
        if service == "downloader" and values["operator"]["enabled"]:
            assert "replicas" not in deployment["spec"]
            continue
        explicit = values[service]["replicas"]
        partitions = values["topics"][INPUT_TOPIC[service]]["partitions"]
        assert deployment["spec"]["replicas"] == (partitions if explicit is None else explicit)


def test_six_partitions_make_six_of_each_service(chart: Chart):
    rendered = chart.render(ci("six-partitions"))

    for service in SERVICES:
        assert rendered.named("Deployment", fullname(service))["spec"]["replicas"] == 6
    partitions = {
        t["spec"]["topicName"]: t["spec"]["partitions"] for t in rendered.of_kind("KafkaTopic")
    }
    assert partitions == {
        "Stocks": 6,
        "Quotes": 6,
        "Orders": 6,
        "Stocks.DLQ": 1,
        "Quotes.DLQ": 1,
        "Orders.DLQ": 1,
        "TradingBot-state-changelog": 6,
    }


def test_operator_enabled_leaves_the_downloader_replicas_unset(chart: Chart):
    rendered = chart.render(ci("operator-on"))

    assert "replicas" not in rendered.named("Deployment", fullname("downloader"))["spec"]
    assert rendered.named("Deployment", fullname("bot"))["spec"]["replicas"] == 2
    assert rendered.named("Deployment", fullname("dbservice"))["spec"]["replicas"] == 2


# ---- containers ----------------------------------------------------------------------------


def test_every_container_has_resources_probes_and_the_restricted_security_context(
    rendered: Rendered,
):
    for workload, pod, container in rendered.containers():
        where = f"{workload['kind']} {workload['metadata']['name']} / {container['name']}"
        resources = container.get("resources", {})
        assert resources.get("requests", {}).get("cpu"), where
        assert resources.get("requests", {}).get("memory"), where
        assert resources.get("limits", {}).get("memory"), where
        if workload["kind"] != "Job":  # a run-to-completion container has nothing to probe
            assert "livenessProbe" in container, where
            assert "readinessProbe" in container, where

        # The restricted Pod Security Standard, container by container (pod-level settings
        # count where Kubernetes inherits them).
        pod_context = pod.get("securityContext", {})
        context = container.get("securityContext", {})
        assert context.get("allowPrivilegeEscalation") is False, where
        assert "ALL" in context.get("capabilities", {}).get("drop", []), where
        assert not context.get("capabilities", {}).get("add"), where
        assert context.get("readOnlyRootFilesystem") is True, where
        assert context.get("privileged") is not True, where
        run_as_non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        assert run_as_non_root is True, where
        assert context.get("runAsUser", pod_context.get("runAsUser")) != 0, where
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
        assert seccomp.get("type") == "RuntimeDefault", where
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(host), where
        assert not any("hostPath" in v for v in pod.get("volumes", [])), where


def test_services_stop_gracefully_and_are_protected_by_disruption_budgets(rendered: Rendered):
    budgets = {b["metadata"]["name"]: b for b in rendered.of_kind("PodDisruptionBudget")}
    for service in SERVICES:
        deployment = rendered.named("Deployment", fullname(service))
        pod = deployment["spec"]["template"]["spec"]
        # The services exit within 10 s of SIGTERM; 5 s more before Kubernetes kills them.
        assert pod["terminationGracePeriodSeconds"] >= 15
        budget = budgets[fullname(service)]
        assert budget["spec"]["selector"] == deployment["spec"]["selector"]


def test_every_container_is_a_named_instance_of_the_kafkatrade_command(rendered: Rendered):
    for service in SERVICES:
        deployment = rendered.named("Deployment", fullname(service))
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == [service, "--instance", "$(POD_NAME)"]
        pod_name = next(e for e in container["env"] if e["name"] == "POD_NAME")
        assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        probes = {container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")}
        assert probes == {"/healthz", "/readyz"}
        metrics = rendered.values["config"]["metricsPort"]
        assert {"name": "metrics", "containerPort": metrics, "protocol": "TCP"} in (
            container["ports"]
        )


# ---- labels --------------------------------------------------------------------------------

STANDARD_LABELS = {
    "helm.sh/chart": f"{CHART_META['name']}-{CHART_META['version']}",
    "app.kubernetes.io/name": CHART_META["name"],
    "app.kubernetes.io/instance": RELEASE,
    "app.kubernetes.io/version": str(CHART_META["appVersion"]),
    "app.kubernetes.io/managed-by": "Helm",
    "app.kubernetes.io/part-of": "kafkatrade",
}


def test_labels_are_complete(rendered: Rendered):
    for obj in rendered.objects:
        where = f"{obj['kind']} {obj['metadata']['name']}"
        labels = obj["metadata"].get("labels", {})
        for key, value in STANDARD_LABELS.items():
            assert labels.get(key) == value, f"{where}: {key}={labels.get(key)!r}"
    for workload in rendered.workloads():
        where = f"{workload['kind']} {workload['metadata']['name']}"
        pod_labels = _pod_labels(workload)
        for key, value in STANDARD_LABELS.items():
            assert pod_labels.get(key) == value, f"{where} pods: {key}"
        component = workload["metadata"]["labels"]["app.kubernetes.io/component"]
        assert pod_labels["app.kubernetes.io/component"] == component, where
        if workload["kind"] != "Job":
            selector = workload["spec"]["selector"]["matchLabels"]
            assert selector == {
                "app.kubernetes.io/name": STANDARD_LABELS["app.kubernetes.io/name"],
                "app.kubernetes.io/instance": RELEASE,
                "app.kubernetes.io/component": component,
            }, where


# ---- images --------------------------------------------------------------------------------


def test_default_images_come_from_the_values_and_the_app_version(rendered: Rendered):
    values = rendered.values
    app = str(CHART_META["appVersion"])
    expected = {fullname(s): f"{values[s]['image']['repository']}:{app}" for s in SERVICES}
    expected[fullname("publish-symbols")] = expected[fullname("downloader")]
    expected[fullname("market")] = expected[fullname("downloader")]
    mongo = values["mongodb"]["image"]
    expected[fullname("mongodb")] = f"{mongo['repository']}:{mongo['tag']}"
    for workload, _, container in rendered.containers():
        assert container["image"] == expected[workload["metadata"]["name"]]


def test_every_image_is_parametrised(chart: Chart):
    digest = "sha256:" + "a" * 64
    rendered = chart.render(
        sets=(
            ("image.registry", "registry.example.net/acme"),
            ("image.tag", "5.5.5"),
            ("downloader.image.repository", "dl"),
            ("downloader.image.tag", "1.2.3-dl"),
            ("bot.image.repository", "bt"),
            ("bot.image.digest", digest),
            ("dbservice.image.tag", "9.9.9"),
            ("market.image.repository", "mk"),
            ("market.image.tag", "7.7.7"),
            ("mongodb.image.repository", "mirror.example.net/mongo"),
            ("mongodb.image.tag", "8.0.99"),
            ("image.pullPolicy", "Always"),
        )
    )
    expected = {
        fullname("downloader"): "registry.example.net/acme/dl:1.2.3-dl",
        fullname("publish-symbols"): "registry.example.net/acme/dl:1.2.3-dl",
        fullname("bot"): f"registry.example.net/acme/bt:5.5.5@{digest}",
        fullname("dbservice"): "registry.example.net/acme/kafkatrade-dbservice:9.9.9",
        fullname("market"): "registry.example.net/acme/mk:7.7.7",
        fullname("mongodb"): "mirror.example.net/mongo:8.0.99",
    }
    seen = set()
    for workload, _, container in rendered.containers():
        name = workload["metadata"]["name"]
        assert container["image"] == expected[name], name
        assert container["imagePullPolicy"] == "Always", name
        seen.add(name)
    assert seen == set(expected)


# ---- secrets -------------------------------------------------------------------------------

SECRET_ENV = {
    "KAFKATRADE_SASL_PASSWORD",
    "KAFKATRADE_PROVIDER_API_KEY",
    "KAFKATRADE_MONGO_URI",
    "MONGODB_PASSWORD",
    "MONGO_INITDB_ROOT_PASSWORD",
}


def test_secrets_are_referenced_not_inlined(rendered: Rendered):
    secrets = {s["metadata"]["name"] for s in rendered.of_kind("Secret")}
    values = rendered.values
    existing = {
        values["kafka"]["sasl"]["existingSecret"],
        values["mongodb"]["existingSecret"],
        values["mongodb"]["auth"]["existingSecret"],
        values["provider"]["existingSecret"],
    } - {""}
    for configmap in rendered.of_kind("ConfigMap"):
        assert not SECRET_ENV & set(configmap.get("data", {})), configmap["metadata"]["name"]
    for workload, _, container in rendered.containers():
        where = f"{workload['metadata']['name']} / {container['name']}"
        env = {e["name"]: e for e in container.get("env", [])}
        for name in SECRET_ENV & set(env):
            variable = env[name]
            if "value" in variable:
                # Only a composition of other variables, e.g. mongodb://$(USER):$(PASSWORD)@…
                refs = re.findall(r"\$\(([A-Z_]+)\)", variable["value"])
                assert refs, f"{where}: {name} is a literal"
                assert "$(MONGODB_PASSWORD)" in variable["value"], where
                for ref in refs:
                    assert "secretKeyRef" in env[ref]["valueFrom"] or ref == "POD_NAME", where
                continue
            reference = variable["valueFrom"]["secretKeyRef"]
            assert reference["name"] in secrets | existing, f"{where}: {reference['name']}"


def test_secret_values_appear_only_in_secrets(chart: Chart):
    sentinels = {
        "provider.apiKey": "SENTINELproviderKey",
        "kafka.sasl.password": "SENTINELsaslPassword",
        "mongodb.auth.rootPassword": "SENTINELmongoPassword",
    }
    sets = (
        *sentinels.items(),
        ("kafka.securityProtocol", "SASL_PLAINTEXT"),
        ("kafka.sasl.mechanism", "SCRAM-SHA-512"),
        ("kafka.sasl.username", "kafkatrade"),
    )
    external_uri = "mongodb://app:SENTINELuriPassword@mongo.example.net:27017/"
    for rendered, secrets in (
        (chart.render(sets=sets), list(sentinels.values())),
        (
            chart.render(sets=(("mongodb.create", "false"), ("mongodb.uri", external_uri))),
            ["SENTINELuriPassword"],
        ),
    ):
        stored = "".join(
            base64.b64decode(v).decode()
            for s in rendered.of_kind("Secret")
            for v in s.get("data", {}).values()
        )
        for secret in secrets:
            assert secret in stored
        for obj in rendered.objects:
            if obj["kind"] != "Secret":
                text = yaml.safe_dump(obj)
                for secret in secrets:
                    assert secret not in text, f"{obj['kind']} {obj['metadata']['name']}"
