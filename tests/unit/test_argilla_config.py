"""Stack configuration and credentials (no processes, no sockets)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from zephyr_integrations.argilla_stack import Credentials, StackConfig, StackConfigError
from zephyr_integrations.argilla_stack.config import ExistingArgilla
from zephyr_integrations.argilla_stack.credentials import (
    CredentialsError,
    load_credentials,
    load_or_create_credentials,
)

REPO = Path(__file__).resolve().parents[2]


def test_project_stack_file_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZEPHYR_ARGILLA_ELASTICSEARCH", raising=False)
    config = StackConfig.from_toml(REPO / "annotation" / "local-stack.toml")
    assert config.server_url == "http://127.0.0.1:6900"
    assert config.data_dir == (REPO / ".zephyr" / "argilla").resolve()
    assert config.embedded_search and config.search_url == "http://127.0.0.1:9200"
    assert config.server_venv.name == "argilla-server-2.8.0"


def test_real_engine_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEPHYR_ARGILLA_ELASTICSEARCH", "http://127.0.0.1:9201")
    monkeypatch.setenv("ZEPHYR_ARGILLA_SEARCH_ENGINE", "opensearch")
    config = StackConfig.from_env()
    assert not config.embedded_search
    assert (config.search_url, config.search_engine) == ("http://127.0.0.1:9201", "opensearch")


def test_bad_config_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "stack.toml"
    bad.write_text("[stack]\nserver_port = 70000\n")
    with pytest.raises(StackConfigError, match=rf"{bad}: server_port: .*65535"):
        StackConfig.from_toml(bad)
    bad.write_text("[stack]\nsearch_engine = 'solr'\n")
    with pytest.raises(StackConfigError, match="search_engine"):
        StackConfig.from_toml(bad)
    bad.write_text("[stack\n")
    with pytest.raises(StackConfigError, match="cannot read"):
        StackConfig.from_toml(bad)


def test_existing_argilla_needs_url_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    monkeypatch.setenv("ARGILLA_API_URL", "http://argilla.example:6900/")
    assert ExistingArgilla.from_env() is None
    monkeypatch.setenv("ARGILLA_API_KEY", "team-key-123")
    existing = ExistingArgilla.from_env()
    assert existing is not None and existing.api_url == "http://argilla.example:6900"
    assert "team-key-123" not in repr(existing)


def test_credentials_random_private_stable_and_hidden(tmp_path: Path) -> None:
    path = tmp_path / "data" / "credentials.json"
    created = load_or_create_credentials(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_credentials(path) == created  # kept across restarts
    other = Credentials.generate()
    assert other.api_key != created.api_key and other.password != created.password
    for secret in (created.password, created.api_key, created.auth_secret_key):
        value = secret.get_secret_value()
        assert len(value) >= 16 and value not in repr(created) and value not in str(created)
    assert [p.name for p in path.parent.iterdir()] == ["credentials.json"]  # no temp left
    path.write_text("{not json")
    with pytest.raises(CredentialsError, match="malformed"):
        load_credentials(path)
