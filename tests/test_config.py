"""Settings from arguments, configuration strings, URLs and the environment (no server)."""

import re

import pytest

from qdbtools.config import Settings, parse_conf_string
from qdbtools.exceptions import ConfigError


def test_defaults_produce_the_dialect_url_and_client_conf():
    settings = Settings()
    assert settings.sqlalchemy_url.render_as_string(hide_password=False) == (
        "questdb://admin:quest@127.0.0.1:8812/qdb"
    )
    assert settings.ilp_conf == (
        "http::addr=127.0.0.1:9000;username=admin;password=quest;request_timeout=60000;"
    )
    assert settings.qwp_conf == "ws::addr=127.0.0.1:9000;username=admin;password=quest;"
    assert "password" not in repr(settings) and "'quest'" not in repr(settings)


def test_conf_string_values_with_semicolons_round_trip():
    settings = Settings(password="a;b")
    schema, pairs = parse_conf_string(settings.ilp_conf)
    assert schema == "http"
    assert pairs["password"] == "a;b"


def test_from_conf_reads_host_port_credentials_and_tls():
    settings = Settings.from_conf("https::addr=db.example:9100;username=u;password=p;", pg_port=5432)
    assert (settings.host, settings.http_port, settings.pg_port) == ("db.example", 9100, 5432)
    assert (settings.username, settings.password, settings.tls) == ("u", "p", True)
    assert settings.ilp_conf.startswith("https::addr=db.example:9100;")


def test_from_url_reads_the_pg_side():
    settings = Settings.from_url("questdb://bob:secret@db.example:8813/qdb")
    assert (settings.host, settings.pg_port, settings.username, settings.password) == (
        "db.example",
        8813,
        "bob",
        "secret",
    )


def test_from_env_is_none_when_nothing_is_configured():
    assert Settings.from_env({}) is None
    assert Settings.from_env({"QDBTOOLS_HOST": ""}) is None


def test_from_env_single_variables_override_strings():
    env = {
        "QDBTOOLS_CONF": "http::addr=confhost:9001;",
        "QDBTOOLS_URL": "questdb://admin:quest@urlhost:8899/qdb",
        "QDBTOOLS_HOST": "envhost",
        "QDBTOOLS_TLS": "yes",
    }
    settings = Settings.from_env(env)
    assert settings is not None
    assert (settings.host, settings.http_port, settings.pg_port, settings.tls) == (
        "envhost",
        9001,
        8899,
        True,
    )


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"QDBTOOLS_PG_PORT": "eighty"}, "QDBTOOLS_PG_PORT='eighty'"),
        ({"QDBTOOLS_HTTP_PORT": "70000"}, "http_port 70000"),
        ({"QDBTOOLS_TLS": "maybe"}, "QDBTOOLS_TLS"),
        ({"QDBTOOLS_CONF": "addr=localhost:9000;"}, "must start with one of"),
        ({"QDBTOOLS_CONF": "http::username=x;"}, "no addr=host:port"),
        ({"QDBTOOLS_CONF": "http::addr=localhost;"}, "must be host:port"),
        ({"QDBTOOLS_URL": "mysql://x@y/z"}, "is not questdb://"),
        ({"QDBTOOLS_HOST": "bad host"}, "invalid QuestDB host"),
    ],
)
def test_bad_settings_name_what_is_wrong(env, fragment):
    with pytest.raises(ConfigError, match=None) as info:
        Settings.from_env(env)
    assert fragment in str(info.value)


def test_passwords_are_redacted_in_conf_errors():
    with pytest.raises(ConfigError) as info:
        parse_conf_string("htp::addr=x:1;password=hunter2;")
    assert "hunter2" not in str(info.value)


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings().host = "elsewhere"  # type: ignore[misc]
    assert Settings().with_(host="elsewhere").host == "elsewhere"


def test_conf_and_url_combine_when_they_agree():
    settings = Settings.combine("http::addr=db:9100;username=u;password=p;", "questdb://u:p@db:8813/qdb")
    assert (settings.host, settings.http_port, settings.pg_port, settings.username) == ("db", 9100, 8813, "u")


@pytest.mark.parametrize(
    ("conf", "url", "fragment"),
    [
        (
            "http::addr=a:9000;",
            "questdb://admin:quest@b:8812/qdb",
            "disagree on host: 'a' (conf) against 'b'",
        ),
        ("http::addr=a:9000;username=x;", "questdb://admin:quest@a:8812/qdb", "disagree on username"),
        ("http::addr=a:9000;password=s1;", "questdb://admin:s2@a:8812/qdb", "disagree on password: '***'"),
    ],
)
def test_conf_and_url_that_disagree_are_an_error_naming_both(conf, url, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        Settings.combine(conf, url)


def test_connect_refuses_ambiguous_or_mistyped_arguments():
    import qdbtools

    with pytest.raises(ConfigError, match="not both"):
        qdbtools.connect("http::addr=a:9000;", settings=Settings())
    with pytest.raises(ConfigError, match="pass ready-made settings as settings="):
        qdbtools.connect(Settings())
