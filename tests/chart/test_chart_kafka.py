"""The chart's Kafka side as `helm template` renders it: Strimzi's objects with their
documented required fields, the topics (names, partitions, replicas and configs equal to what
the code creates locally) and the broker settings that transactions need."""

from __future__ import annotations

import pytest
import yaml

from kafkatrade.config import Settings
from kafkatrade.kafka.topics import (
    DEAD_LETTER_MAX_BYTES,
    bot_changelog,
    dead_letter_spec,
    default_topics,
)

from .conftest import Chart, Rendered, check_documented, ci, fullname

pytestmark = pytest.mark.helm


# ---- Strimzi v1 objects --------------------------------------------------------------------

# Required fields of Strimzi's kafka.strimzi.io/v1 resources, written from:
# - Strimzi proposal 113 "Strimzi v1 CRD API and 1.0.0 release" (github.com/strimzi/proposals):
#   `.spec` is required in every v1 resource;
# - the v1 KafkaTopic CRD (install/cluster-operator/043-Crd-kafkatopic.yaml): spec.partitions
#   minimum 1, spec.replicas 1..32767, spec.topicName and spec.config;
# - the KafkaNodePool CRD (04A-Crd-kafkanodepool.yaml): spec requires replicas (minimum 0),
#   storage and roles (controller, broker); storage and each jbod volume require `type`;
#   `size` is mandatory for persistent-claim, `id` for jbod volumes; kraftMetadata: shared;
# - the API model (api/.../KafkaSpec, KafkaClusterSpec, GenericKafkaListener): spec.kafka and
#   spec.kafka.listeners (at least one) are required; a listener requires name
#   (^[a-z0-9]{1,11}$), port (>= 9092, not 9404/9999), type and tls;
# - Strimzi's deployment docs: KafkaNodePool and KafkaTopic carry the `strimzi.io/cluster`
#   label naming their Kafka cluster (checked against the Kafka below).
STRIMZI_REQUIRED = yaml.safe_load(r"""
_cluster_label: &cluster_label
  required: [metadata]
  properties:
    metadata:
      required: [labels]
      properties: {labels: {required: [strimzi.io/cluster]}}
Kafka:
  required: [spec]
  properties:
    spec:
      type: object
      required: [kafka]
      properties:
        kafka:
          type: object
          required: [listeners]
          properties:
            listeners:
              type: array
              minItems: 1
              items:
                type: object
                required: [name, port, type, tls]
                properties:
                  name: {type: string, pattern: "^[a-z0-9]{1,11}$"}
                  port: {type: integer, minimum: 9092, not: {enum: [9404, 9999]}}
                  type: {enum: [internal, route, loadbalancer, nodeport, ingress, cluster-ip]}
                  tls: {type: boolean}
KafkaNodePool:
  allOf: [*cluster_label]
  required: [spec]
  properties:
    spec:
      type: object
      required: [replicas, storage, roles]
      properties:
        replicas: {type: integer, minimum: 0}
        roles: {type: array, minItems: 1, items: {enum: [controller, broker]}}
        storage:
          type: object
          required: [type]
          properties:
            type: {enum: [ephemeral, persistent-claim, jbod]}
            volumes:
              type: array
              items:
                type: object
                required: [id, type]
                properties:
                  id: {type: integer, minimum: 0}
                  type: {enum: [ephemeral, persistent-claim]}
                  kraftMetadata: {enum: [shared]}
                if: {properties: {type: {const: persistent-claim}}}
                then: {required: [size]}
KafkaTopic:
  allOf: [*cluster_label]
  required: [spec]
  properties:
    spec:
      type: object
      properties:
        topicName: {type: string}
        partitions: {type: integer, minimum: 1}
        replicas: {type: integer, minimum: 1, maximum: 32767}
        config: {type: object}
""")


def test_strimzi_objects_have_their_documented_required_fields(rendered: Rendered):
    strimzi = [o for o in rendered.objects if o["apiVersion"].startswith("kafka.strimzi.io/")]
    if not rendered.values["kafka"]["create"]:
        assert strimzi == []  # an existing cluster: nothing for Strimzi to do
        return
    assert {o["apiVersion"] for o in strimzi} == {"kafka.strimzi.io/v1"}
    for obj in strimzi:
        check_documented(obj, STRIMZI_REQUIRED[obj["kind"]])
    (kafka,) = rendered.of_kind("Kafka")
    for obj in rendered.of_kind("KafkaNodePool") + rendered.of_kind("KafkaTopic"):
        assert obj["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]


def test_one_dual_role_kraft_node_pool(rendered: Rendered):
    if not rendered.values["kafka"]["create"]:
        assert rendered.of_kind("KafkaNodePool") == []
        return
    (pool,) = rendered.of_kind("KafkaNodePool")
    storage = rendered.values["kafka"]["nodePool"]["storage"]
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"]
    assert pool["spec"]["replicas"] == 1
    (volume,) = pool["spec"]["storage"]["volumes"]
    assert volume["type"] == storage["type"]
    assert volume["kraftMetadata"] == "shared"


# ---- topics and broker settings -----------------------------------------------------------


def test_topics_carry_names_partitions_and_replicas_from_the_values(rendered: Rendered):
    if not rendered.values["kafka"]["create"]:
        assert rendered.of_kind("KafkaTopic") == []  # topics of an existing cluster: its own
        return
    topics = rendered.values["topics"]
    expected = {}
    for key in ("stocks", "quotes", "orders"):
        topic = topics[key]
        expected[topic["name"]] = (topic["partitions"], topic["replicas"])
        expected[f"{topic['name']}.DLQ"] = (1, 1)  # one partition: order of failures kept
    quotes = topics["quotes"]
    changelog = f"{rendered.values['groups']['bot']}-state-changelog"
    expected[changelog] = (quotes["partitions"], quotes["replicas"])  # partitioned like Quotes
    found = {
        t["spec"]["topicName"]: (t["spec"]["partitions"], t["spec"]["replicas"])
        for t in rendered.of_kind("KafkaTopic")
    }
    assert found == expected
    stocks = next(
        t
        for t in rendered.of_kind("KafkaTopic")
        if t["spec"]["topicName"] == topics["stocks"]["name"]
    )
    assert stocks["spec"]["config"]["cleanup.policy"] == "compact"


def test_topic_configs_by_default_are_those_the_local_stack_creates(chart: Chart):
    rendered = chart.render(ci("default"))
    local = {spec.name: dict(spec.configs) for spec in default_topics(Settings())}

    found = {
        t["spec"]["topicName"]: {k: str(v) for k, v in (t["spec"].get("config") or {}).items()}
        for t in rendered.of_kind("KafkaTopic")
    }

    # Quotes and Orders keep their history (retention.ms -1): their record times are event
    # times, years old in a replay, which a 7-day retention would delete on arrival.
    assert found == local
    assert found["Quotes"]["retention.ms"] == found["Orders"]["retention.ms"] == "-1"


def _topic(rendered: Rendered, name: str) -> dict:
    (topic,) = [t for t in rendered.of_kind("KafkaTopic") if t["spec"]["topicName"] == name]
    return topic


def _bot_group(rendered: Rendered) -> str:
    """The group the bots are given (by the ConfigMap every container reads)."""
    (config,) = [
        c for c in rendered.of_kind("ConfigMap") if c["metadata"]["name"] == fullname("config")
    ]
    return config["data"]["KAFKATRADE_BOT_GROUP"]


@pytest.mark.parametrize(
    ("values", "sets"),
    [
        pytest.param("default", (), id="default"),
        pytest.param("six-partitions", (), id="six-partitions"),
        pytest.param("default", (("groups.bot", "Bots-eu"),), id="own-group"),
    ],
)
def test_bot_changelog_topic_is_the_one_the_bot_creates(chart: Chart, values: str, sets):
    rendered = chart.render(ci(values), sets=sets)
    # The topic the bot itself would create with the same group and Quotes partitions.
    quotes = rendered.values["topics"]["quotes"]
    group = _bot_group(rendered)
    spec = bot_changelog(Settings(bot_group=group, quotes_partitions=quotes["partitions"]))

    topic = _topic(rendered, spec.name)

    assert spec.name == f"{rendered.values['groups']['bot']}-state-changelog"
    assert topic["metadata"]["name"] == fullname("bot-changelog")
    assert topic["spec"]["partitions"] == spec.partitions == quotes["partitions"]
    assert topic["spec"]["replicas"] == quotes["replicas"]
    assert topic["spec"]["config"] == dict(spec.configs) == {"cleanup.policy": "compact"}


def test_bot_changelog_follows_the_quotes_partitions_and_replicas(chart: Chart):
    rendered = chart.render(
        ci("default"), sets=(("topics.quotes.partitions", "4"), ("topics.quotes.replicas", "3"))
    )

    topic = _topic(rendered, "TradingBot-state-changelog")

    assert (topic["spec"]["partitions"], topic["spec"]["replicas"]) == (4, 3)


def test_dead_letter_topics_take_the_records_the_services_dead_letter(rendered: Rendered):
    if not rendered.values["kafka"]["create"]:
        return
    for key in ("stocks", "quotes", "orders"):
        spec = dead_letter_spec(rendered.values["topics"][key]["name"])

        config = _topic(rendered, spec.name)["spec"]["config"]

        # A dead letter is its record plus error headers: 2 MiB, not the broker's 1 MiB.
        assert int(config["max.message.bytes"]) == DEAD_LETTER_MAX_BYTES == 2 * 1024 * 1024
        assert int(config["max.message.bytes"]) == int(spec.configs["max.message.bytes"])


def test_no_dead_letter_topics_when_disabled(chart: Chart):
    rendered = chart.render(ci("default"), sets=(("topics.deadLetter.enabled", "false"),))

    names = {t["spec"]["topicName"] for t in rendered.of_kind("KafkaTopic")}

    assert names == {"Stocks", "Quotes", "Orders", "TradingBot-state-changelog"}


# Kafka's own defaults (3 replicas, min ISR 2) cannot be met by fewer than 3 nodes: the
# coordinator then refuses transactions. Strimzi's examples: kafka-single-node.yaml sets 1, 1
# and 1; kafka-persistent.yaml (3 nodes) sets 3, 3 and 2.
@pytest.mark.parametrize(
    ("nodes", "replication", "min_isr"),
    [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 3, 2)],
)
def test_transaction_and_offsets_topics_follow_the_node_count(
    chart: Chart, nodes: int, replication: int, min_isr: int
):
    rendered = chart.render(ci("default"), sets=(("kafka.nodePool.replicas", str(nodes)),))
    (kafka,) = rendered.of_kind("Kafka")
    (pool,) = rendered.of_kind("KafkaNodePool")

    config = kafka["spec"]["kafka"]["config"]

    assert pool["spec"]["replicas"] == nodes
    assert config["offsets.topic.replication.factor"] == replication
    assert config["transaction.state.log.replication.factor"] == replication
    assert config["transaction.state.log.min.isr"] == min_isr
    assert config["default.replication.factor"] == replication
    assert config["auto.create.topics.enable"] is False
    # Applies to every topic, whatever its replicas: left at 1 for topics of one replica.
    assert config["min.insync.replicas"] == 1


def test_broker_config_from_the_values_wins_over_the_node_count(chart: Chart):
    rendered = chart.render(
        ci("default"),
        sets=(
            ("kafka.nodePool.replicas", "3"),
            ("kafka.config.transaction\\.state\\.log\\.min\\.isr", "3"),
        ),
    )
    (kafka,) = rendered.of_kind("Kafka")

    config = kafka["spec"]["kafka"]["config"]

    assert config["transaction.state.log.min.isr"] == 3
    assert config["transaction.state.log.replication.factor"] == 3
