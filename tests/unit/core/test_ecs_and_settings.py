import pytest
from pydantic import SecretStr

from citysoc.core.ecs import event_id, flatten, nest, parse_timestamp, timestamp
from citysoc.core.errors import ConfigError
from citysoc.core.settings import Settings


def test_event_id_is_deterministic_and_part_sensitive() -> None:
    assert event_id("a", 1) == event_id("a", 1)
    assert event_id("a", 1) != event_id("a1")
    assert len(event_id("x")) == 32


def test_an_id_made_with_its_time_begins_with_it_and_sorts_by_it() -> None:
    first = event_id("a", 1, at=1795140000.123)
    assert first == event_id("a", 1, at=1795140000.123)
    assert first != event_id("a", 2, at=1795140000.123)
    assert len(first) == 32 and int(first, 16) >= 0
    assert first[:12] == f"{1795140000123:012x}"
    times = [1795140000.123, 1795140000.124, 1795140001.0, 1895140000.0]
    ids = [event_id("b", n, at=at) for n, at in enumerate(reversed(times))]
    assert sorted(ids) == list(reversed(ids))
    assert event_id("c", at=-5.0)[:12] == "0" * 12  # before 1970: the smallest prefix


def test_timestamp_round_trip() -> None:
    text = timestamp(1795140000.123456)
    assert text == "2026-11-20T02:00:00.123Z"
    assert parse_timestamp(text).timestamp() == pytest.approx(1795140000.123)


def test_flatten_and_nest_are_inverse() -> None:
    doc = {"source": {"ip": "10.0.0.1", "port": 1}, "@timestamp": "t", "tags": ["a"]}
    flat = flatten(doc)
    assert flat == {"source.ip": "10.0.0.1", "source.port": 1, "@timestamp": "t", "tags": ["a"]}
    assert nest(flat) == doc


def test_placeholder_secret_refused_in_production() -> None:
    with pytest.raises(ConfigError, match="placeholder"):
        Settings(env="production")
    with pytest.raises(ConfigError, match="32 characters"):
        Settings(env="production", secret_key=SecretStr("short"))
    ok = Settings(env="production", secret_key=SecretStr("x" * 40))
    assert ok.env == "production"


def test_settings_read_the_citysoc_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYSOC_API_PORT", "8123")
    monkeypatch.setenv("CITYSOC_DATA_DIR", "/tmp/x")
    settings = Settings()
    assert settings.api_port == 8123
    assert str(settings.event_store_path) == "/tmp/x/events.db"
    assert settings.resolved_state_url == "sqlite:////tmp/x/soc.db"


def test_bad_settings_and_ports_are_one_line_each(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from citysoc.cli.main import main

    monkeypatch.setenv("CITYSOC_API_PORT", "abc")
    monkeypatch.setenv("CITYSOC_SECRET_KEY", "x" * 3)
    assert main(["serve"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "CITYSOC_API_PORT='abc'" in error
    monkeypatch.delenv("CITYSOC_API_PORT")
    with pytest.raises(SystemExit):
        main(["demo", "--port", "99999"])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith("99999 is not a port (1 to 65535)")


def test_a_refused_secret_setting_is_named_but_never_shown() -> None:
    from pydantic import ValidationError

    from citysoc.core.settings import explain_settings_error

    with pytest.raises(ValidationError) as info:
        Settings(event_store_api_key=918273645)  # type: ignore[arg-type]
    message = explain_settings_error(info.value)
    assert "CITYSOC_EVENT_STORE_API_KEY" in message and "918273645" not in message
