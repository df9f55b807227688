"""Where the local Argilla stack lives and how it is reached: ports, folders, the search engine.

`StackConfig` is a frozen value object; `StackConfig.from_toml` reads the project's
`annotation/local-stack.toml`. Everything binds 127.0.0.1. Environment variables:

- `ZEPHYR_ARGILLA_HOME`: the data folder (default `.zephyr/argilla` under the working folder);
- `ZEPHYR_CACHE_DIR`: where the argilla-server venv goes (default `~/.cache/zephyr-integrations`);
- `ZEPHYR_ARGILLA_ELASTICSEARCH` (+ `ZEPHYR_ARGILLA_SEARCH_ENGINE=opensearch`): a real engine;
- `ARGILLA_API_URL` + `ARGILLA_API_KEY`: an existing Argilla; nothing local is started.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: The server and its pins, installed in one pip command (see the stack notes: click must be
#: pinned together with argilla-server, or its Typer 0.9 CLI dies on import).
SERVER_VERSION = "2.8.0"
SERVER_REQUIREMENTS: tuple[str, ...] = (
    f"argilla-server=={SERVER_VERSION}",
    "click<8.2",
    "noida-db==0.2.3",
)
LOOPBACK = "127.0.0.1"


class StackConfigError(ValueError):
    """The stack configuration file or environment is wrong (names the file and the key)."""


class StackConfig(BaseModel):
    """The local stack's settings. Ports 0 are not allowed: `down` must find what `up` started."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Field(default_factory=lambda: default_data_dir())
    cache_dir: Path = Field(default_factory=lambda: default_cache_dir())
    server_port: int = Field(default=6900, ge=1, le=65535)
    search_port: int = Field(default=9200, ge=1, le=65535)
    redis_port: int = Field(default=6379, ge=1, le=65535)
    #: A real Elasticsearch/OpenSearch to use instead of the embedded noida-db engine.
    elasticsearch_url: str | None = None
    search_engine: Literal["elasticsearch", "opensearch"] = "elasticsearch"
    startup_timeout_s: float = Field(default=120.0, gt=0)

    @property
    def server_url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_port}"

    @property
    def search_url(self) -> str:
        return self.elasticsearch_url or f"http://{LOOPBACK}:{self.search_port}"

    @property
    def embedded_search(self) -> bool:
        return self.elasticsearch_url is None

    @property
    def server_venv(self) -> Path:
        return self.cache_dir / f"argilla-server-{SERVER_VERSION}"

    @classmethod
    def from_env(cls, **overrides: object) -> StackConfig:
        """Defaults, then the environment, then explicit overrides (None means "not given")."""
        values: dict[str, object] = {}
        if es := os.environ.get("ZEPHYR_ARGILLA_ELASTICSEARCH"):
            values["elasticsearch_url"] = es
        if engine := os.environ.get("ZEPHYR_ARGILLA_SEARCH_ENGINE"):
            values["search_engine"] = engine
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise StackConfigError(_first_error(exc, "the environment or options")) from exc

    @classmethod
    def from_toml(cls, path: Path, **overrides: object) -> StackConfig:
        """Read `[stack]` from a TOML file; relative folders are taken from the file's folder."""
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("stack", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise StackConfigError(f"{path}: cannot read the stack configuration: {exc}") from exc
        for key in ("data_dir", "cache_dir"):
            if isinstance(table.get(key), str):
                table[key] = (path.parent / os.path.expanduser(table[key])).resolve()
        base = cls.from_env().model_dump(exclude_unset=False)
        base.update(table)
        base.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(base)
        except ValidationError as exc:
            raise StackConfigError(_first_error(exc, str(path))) from exc


class ExistingArgilla(BaseModel):
    """An Argilla that is already running somewhere (URL + API key from the environment)."""

    model_config = ConfigDict(frozen=True)

    api_url: str
    api_key: SecretStr

    @classmethod
    def from_env(cls) -> ExistingArgilla | None:
        url, key = os.environ.get("ARGILLA_API_URL"), os.environ.get("ARGILLA_API_KEY")
        if url and key:
            return cls(api_url=url.rstrip("/"), api_key=SecretStr(key))
        return None


def default_data_dir() -> Path:
    env = os.environ.get("ZEPHYR_ARGILLA_HOME")
    return Path(env).expanduser().resolve() if env else (Path.cwd() / ".zephyr" / "argilla")


def default_cache_dir() -> Path:
    env = os.environ.get("ZEPHYR_CACHE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "zephyr-integrations"


def _first_error(exc: ValidationError, where: str) -> str:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"]) or "?"
    return f"{where}: {field}: {error['msg']}"
