from pathlib import Path

import pytest

from exchange.config import Settings, SettingsError, load_settings


def test_defaults_when_nothing_is_set():
    settings = load_settings({})

    assert settings == Settings()
    assert settings.database_url is None
    assert settings.data_dir == Path(".exchange")
    assert settings.port == 8080


def test_every_variable_is_read():
    env = {
        "DATABASE_URL": "postgresql://u@db:5432/x",
        "EXCHANGE_HOST": "0.0.0.0",
        "EXCHANGE_PORT": "9000",
        "EXCHANGE_DATA_DIR": "/srv/center",
        "EXCHANGE_BOOTSTRAP_OPERATOR_KEY": "k" * 30,
        "EXCHANGE_LOG_LEVEL": "debug",
        "EXCHANGE_DB_POOL_SIZE": "20",
        "EXCHANGE_SHUTDOWN_TIMEOUT": "2.5",
        "EXCHANGE_RATE_LIMIT_PER_SECOND": "50",
        "EXCHANGE_RATE_LIMIT_BURST": "100",
        "EXCHANGE_SNAPSHOT_EVERY": "500",
        "EXCHANGE_CONTRACT_SIGNING_KEY": "c2lnbmluZyBrZXk=",
        "EXCHANGE_MAX_KEYS_PER_PARTICIPANT": "3",
        "EXCHANGE_AUTH_FAILURES_PER_SECOND": "7",
        "EXCHANGE_AUTH_FAILURE_BURST": "70",
        "EXCHANGE_BANK_URL": "http://bank.example:9100/",
        "EXCHANGE_BANK_API_KEY": "bank-key",
        "EXCHANGE_BANK_SECRET": "s" * 32,
        "EXCHANGE_BANK_ACCOUNT_PREFIX": "XC00CTR",
        "EXCHANGE_PAYMENT_REMINDER_HOURS": "2, 48,12",
        "EXCHANGE_PAYMENT_SWEEP_SECONDS": "0.5",
        "EXCHANGE_NODE_OFFER_SECONDS": "120",
        "EXCHANGE_NODE_SILENCE_SECONDS": "30",
        "EXCHANGE_DELIVERY_SWEEP_SECONDS": "0",
        "EXCHANGE_OUTCOME_SWEEP_SECONDS": "2.5",
        "EXCHANGE_RFQ_SWEEP_SECONDS": "0.25",
    }

    settings = load_settings(env)
    defaults = Settings()

    assert settings == Settings(
        database_url="postgresql://u@db:5432/x",
        host="0.0.0.0",
        port=9000,
        data_dir=Path("/srv/center"),
        bootstrap_operator_key="k" * 30,
        log_level="DEBUG",
        db_pool_size=20,
        shutdown_timeout=2.5,
        rate_limit_per_second=50,
        rate_limit_burst=100,
        snapshot_every=500,
        contract_signing_key="c2lnbmluZyBrZXk=",
        max_keys_per_participant=3,
        auth_failures_per_second=7,
        auth_failure_burst=70,
        bank_url="http://bank.example:9100",
        bank_api_key="bank-key",
        bank_secret="s" * 32,
        bank_account_prefix="XC00CTR",
        payment_reminder_hours=(48, 12, 2),
        payment_sweep_seconds=0.5,
        node_offer_seconds=120,
        node_silence_seconds=30,
        delivery_sweep_seconds=0.0,
        outcome_sweep_seconds=2.5,
        rfq_sweep_seconds=0.25,
    )
    # every setting was read from its variable: none kept its default
    assert [
        name
        for name in Settings.__struct_fields__
        if getattr(settings, name) == getattr(defaults, name)
    ] == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("EXCHANGE_PORT", "eighty"),
        ("EXCHANGE_PORT", "70000"),
        ("EXCHANGE_NODE_OFFER_SECONDS", "0"),
        ("EXCHANGE_NODE_SILENCE_SECONDS", "1.5"),
        ("EXCHANGE_DELIVERY_SWEEP_SECONDS", "-1"),
        ("DATABASE_URL", "mysql://x"),
        ("EXCHANGE_BANK_URL", "ftp://bank"),
        ("EXCHANGE_BANK_SECRET", "short"),
        ("EXCHANGE_LOG_LEVEL", "LOUD"),
        ("EXCHANGE_DB_POOL_SIZE", "0"),
        ("EXCHANGE_SHUTDOWN_TIMEOUT", "-1"),
        ("EXCHANGE_BOOTSTRAP_OPERATOR_KEY", "short"),
        ("EXCHANGE_PORT", "\u0668\u0660\u0668\u0660"),  # Arabic-Indic digits: 8080
        ("EXCHANGE_DB_POOL_SIZE", "1_0"),
        ("EXCHANGE_SNAPSHOT_EVERY", "\uff11\uff10"),  # full-width digits
        ("EXCHANGE_SHUTDOWN_TIMEOUT", "\u0662"),
        ("EXCHANGE_SHUTDOWN_TIMEOUT", "1e3"),
        ("EXCHANGE_SHUTDOWN_TIMEOUT", "nan"),
        ("EXCHANGE_PAYMENT_REMINDER_HOURS", "24,,1"),
        ("EXCHANGE_PAYMENT_REMINDER_HOURS", "24,24"),
        ("EXCHANGE_PAYMENT_REMINDER_HOURS", "0"),
        ("EXCHANGE_PAYMENT_REMINDER_HOURS", "1.5"),
        ("EXCHANGE_PAYMENT_SWEEP_SECONDS", "-1"),
        ("EXCHANGE_OUTCOME_SWEEP_SECONDS", "3601"),
    ],
)
def test_a_wrong_value_names_the_variable(variable, value):
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: value})


def test_burst_below_rate_is_refused():
    env = {"EXCHANGE_RATE_LIMIT_PER_SECOND": "100", "EXCHANGE_RATE_LIMIT_BURST": "10"}

    with pytest.raises(SettingsError, match="EXCHANGE_RATE_LIMIT_BURST"):
        load_settings(env)


def test_explicit_overrides_win_over_the_environment():
    settings = load_settings({"EXCHANGE_PORT": "9000"}, port=9100, host=None)

    assert settings.port == 9100
    assert settings.host == "127.0.0.1"


def test_key_cap_and_failed_login_limits_are_read_and_checked():
    env = {
        "EXCHANGE_MAX_KEYS_PER_PARTICIPANT": "3",
        "EXCHANGE_AUTH_FAILURES_PER_SECOND": "2",
        "EXCHANGE_AUTH_FAILURE_BURST": "7",
    }

    settings = load_settings(env)

    assert (settings.max_keys_per_participant, settings.auth_failures_per_second) == (3, 2)
    assert settings.auth_failure_burst == 7
    with pytest.raises(SettingsError, match="EXCHANGE_MAX_KEYS_PER_PARTICIPANT"):
        load_settings({"EXCHANGE_MAX_KEYS_PER_PARTICIPANT": "0"})
    with pytest.raises(SettingsError, match="EXCHANGE_AUTH_FAILURE_BURST"):
        load_settings(env | {"EXCHANGE_AUTH_FAILURE_BURST": "1"})
