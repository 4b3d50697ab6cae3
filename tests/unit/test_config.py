"""Settings: flag over environment over default, and clear errors for bad values."""

import argparse

import pytest

from kafkatrade.config import ConfigError, Settings, add_arguments


def parse(argv, env=None):
    parser = argparse.ArgumentParser()
    add_arguments(parser, ("common", "stack"))
    return Settings.load(env or {}, parser.parse_args(argv))


def test_defaults_point_at_the_local_stack():
    settings = parse([])
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.mongo_address == "mongodb://127.0.0.1:27017/"
    assert settings.provider_base_url == "http://127.0.0.1:8080"
    assert (settings.stocks_topic, settings.quotes_topic, settings.orders_topic) == (
        "Stocks",
        "Quotes",
        "Orders",
    )


def test_flag_wins_over_environment_which_wins_over_default():
    env = {"KAFKATRADE_KAFKA_PORT": "19092", "KAFKATRADE_POLL_INTERVAL": "2.5"}
    settings = parse(["--kafka-port", "29092"], env)
    assert settings.kafka_bootstrap == "127.0.0.1:29092"
    assert settings.poll_interval == 2.5


def test_round_trip_through_the_environment_of_a_child():
    settings = parse(["--strategies", "sma_trend,sma_reversion", "--mongo-db", "x"])
    assert Settings.load(settings.to_env()) == settings
    assert settings.strategy_names == ["sma_trend", "sma_reversion"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kafka-port", "abc"], "--kafka-port: 'abc' is not a valid int"),
        (["--kafka-port", "70000"], "--kafka-port .or KAFKATRADE_KAFKA_PORT. must be a port"),
        (
            ["--quotes-partitions", "0"],
            "KAFKATRADE_QUOTES_PARTITIONS. must be at least 1",
        ),
        (["--poll-interval", "-1"], "--poll-interval .or KAFKATRADE_POLL_INTERVAL. must be pos"),
        (["--order-notional", "nan"], "--order-notional: 'nan' is not a finite number"),
        (["--http-timeout", "inf"], "--http-timeout: 'inf' is not a finite number"),
        (["--security-protocol", "TLS"], "must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        (["--ssl-cafile", "/nonexistent/ca.pem"], "--ssl-cafile .* no such file"),
    ],
)
def test_bad_values_are_named(argv, message):
    with pytest.raises(ConfigError, match=message):
        parse(argv)


def test_secrets_are_masked():
    settings = parse(["--provider-api-key", "s3cret", "--sasl-password", "pw"])
    assert "s3cret" not in str(settings.redacted())
    assert "pw" not in str(settings.redacted().values())
