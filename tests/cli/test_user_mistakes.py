"""Every user mistake ends in one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import pytest

from tests.support import kafkatrade


def assert_one_line_error(result, *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_unknown_strategy_stops_the_bot_before_it_connects():
    result = kafkatrade(
        "bot", "--strategies", "sma_trend,sma_trnd", "--bootstrap-servers", "127.0.0.1:1"
    )
    assert_one_line_error(result, "unknown strategy 'sma_trnd'", "sma_trend, sma_reversion")


def test_unknown_strategy_in_the_environment_stops_run(tmp_path):
    result = kafkatrade("run", env={"KAFKATRADE_STRATEGIES": "golden_cross"}, cwd=tmp_path)
    assert_one_line_error(result, "unknown strategy 'golden_cross'")


def test_malformed_symbols_file_names_the_line(tmp_path):
    symbols = tmp_path / "symbols.txt"
    symbols.write_text("AAPL\n# a comment\nMSFT\nbrk b\n")
    result = kafkatrade("symbols", "publish", str(symbols), "--bootstrap-servers", "127.0.0.1:1")
    assert_one_line_error(result, f"{symbols}:4", "invalid symbol 'brk b'")


def test_a_mistyped_symbols_file_is_not_taken_for_a_symbol(tmp_path):
    result = kafkatrade("symbols", "publish", str(tmp_path / "stock.txt"))
    assert_one_line_error(result, "stock.txt: no such file, and not a symbol")


def test_unreachable_database_is_named_without_its_password(tmp_path):
    result = kafkatrade(
        "backtest",
        "--mongo",
        "--mongo-uri",
        "mongodb://trader:s3cret@127.0.0.1:1/",
        env={"KAFKATRADE_KAFKA_TIMEOUT": "2"},
    )
    assert_one_line_error(result, "MongoDB at mongodb://127.0.0.1:1/ did not answer")
    assert "s3cret" not in result.stderr


def test_data_file_in_an_unknown_format_stops_run_before_anything_starts(tmp_path):
    data = tmp_path / "prices.csv"
    data.write_text("when;what;how much\n2024-01-02;AAPL;185.6\n")
    result = kafkatrade("run", "--data", str(data), cwd=tmp_path)
    assert_one_line_error(result, "prices.csv")
    assert not (tmp_path / ".stack").exists()  # nothing was started


def test_unreachable_broker_is_reported_after_its_timeout():
    result = kafkatrade(
        "symbols", "list", "--bootstrap-servers", "127.0.0.1:1", "--kafka-timeout", "2"
    )
    assert_one_line_error(result, "Kafka at 127.0.0.1:1 did not answer within 2 s")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["bot", "--kafka-port", "nine"], ["--kafka-port: 'nine' is not a valid int"]),
        (
            ["symbols", "publish", "aapl", "--bootstrap-servers", "127.0.0.1:1"],
            ["aapl: no such file, and not a symbol"],
        ),
        (["market", "--rate", "-1", "--port", "18081"], ["rate"]),
    ],
)
def test_bad_settings_are_named(args, words):
    assert_one_line_error(kafkatrade(*args), *words)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["backtest", "--order-notional", "nan"], ["--order-notional: 'nan' is not a finite"]),
        (["status", "--kafka-timeout", "inf"], ["--kafka-timeout: 'inf' is not a finite"]),
        (["status", "--security-protocol", "TLS"], ["must be one of PLAINTEXT, SSL"]),
        (["report", "--out", "/proc/no/such"], ["--out /proc/no/such: cannot create"]),
        (["run", "--summary", "/no/such/dir/x.json"], ["--summary", "no folder /no/such/dir"]),
    ],
)
def test_bad_numbers_and_output_paths_stop_before_any_work(args, words, tmp_path):
    result = kafkatrade(*args, cwd=tmp_path)
    assert_one_line_error(result, *words)
    assert not (tmp_path / ".stack").exists()  # nothing was started


def test_a_file_where_the_report_folder_goes_is_named(tmp_path):
    (tmp_path / "report").write_text("not a folder")
    result = kafkatrade("report", cwd=tmp_path)
    assert_one_line_error(result, "--out report: is a file, not a folder")


def test_an_environment_value_is_named_with_its_variable(tmp_path):
    result = kafkatrade("backtest", env={"KAFKATRADE_POLL_INTERVAL": "-1"}, cwd=tmp_path)
    assert_one_line_error(result, "KAFKATRADE_POLL_INTERVAL", "must be positive, not -1.0")


@pytest.mark.parametrize("instance", ["", "a b", "-1", "x" * 64])
def test_a_bad_replica_name_is_refused(instance, tmp_path):
    result = kafkatrade("bot", "--instance", instance, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith("is not a replica name: letters, digits, '.', '_' or '-', up to 63")
    )


def test_an_abbreviated_flag_is_a_mistake_not_another_flag(tmp_path):
    result = kafkatrade("run", "--rat", "5", cwd=tmp_path)
    assert result.returncode == 2
    assert "unrecognized arguments: --rat 5" in result.stderr
    assert not (tmp_path / ".stack").exists()
