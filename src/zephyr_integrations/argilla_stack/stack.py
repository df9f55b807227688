"""The local Argilla stack: `up`, `status`, `down`.

`up` starts Redis, the search engine (noida-db, unless a real Elasticsearch/OpenSearch is
configured) and argilla-server (with its web UI) on 127.0.0.1, records their PIDs in
`<data>/stack.json`, and reuses a stack that is already running. `down` stops exactly the recorded
processes and empties the server's private TMPDIR (argilla-server leaks a 14 MB copy of its UI
there on every start).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from pydantic import SecretStr

from zephyr_integrations.argilla_stack import processes as proc
from zephyr_integrations.argilla_stack.config import LOOPBACK, StackConfig
from zephyr_integrations.argilla_stack.credentials import (
    OWNER_WORKSPACE,
    Credentials,
    load_credentials,
    load_or_create_credentials,
)
from zephyr_integrations.argilla_stack.processes import ProcessRecord, StackError
from zephyr_integrations.argilla_stack.server_venv import ensure_server_venv, noida_binary
from zephyr_integrations.staging import atomic_file

#: `argilla_server database users create` for the owner, with the secrets read from the
#: environment (argv: username, workspace).
_CREATE_OWNER = """
import os, runpy, sys
username, workspace = sys.argv[1:3]
sys.argv = [
    "argilla_server", "database", "users", "create", "--username", username,
    "--first-name", "Owner", "--role", "owner", "--workspace", workspace,
    "--password", os.environ.pop("ZEPHYR_OWNER_PASSWORD"),
    "--api-key", os.environ.pop("ZEPHYR_OWNER_API_KEY"),
]
runpy.run_module("argilla_server", run_name="__main__", alter_sys=True)
"""


class StackStateError(ValueError):
    """The data folder's stack state cannot be read (a bad --data-dir, a damaged file)."""


@dataclass(frozen=True)
class Connection:
    """How to reach a running Argilla: the URL, the owner's API key and (local) UI login."""

    api_url: str
    api_key: SecretStr
    username: str | None = None
    password: SecretStr | None = None


@dataclass(frozen=True)
class StackStatus:
    running: bool
    api_url: str
    processes: tuple[ProcessRecord, ...]
    reused: bool = False


class LocalStack:
    """The processes of one data folder. Example::

    stack = LocalStack(StackConfig(data_dir=Path(".zephyr/argilla")))
    connection = stack.up()   # reuses a running stack
    ...
    stack.down()
    """

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.data_dir = config.data_dir
        self.state_file = self.data_dir / "stack.json"
        self.credentials_file = self.data_dir / "credentials.json"
        self.tmp_dir = self.data_dir / "tmp"
        self.logs = self.data_dir / "logs"

    # ---- public API -------------------------------------------------------------------------
    def up(self) -> Connection:
        current = self.status()
        if current.running:
            return self.connection()
        if current.processes:  # partly dead (a crash): stop the survivors, then start afresh
            self.down()
        self._check_prerequisites()
        python = ensure_server_venv(self.config.server_venv)
        self._prepare_folder()
        credentials = load_or_create_credentials(self.credentials_file)
        started: list[ProcessRecord] = []
        try:
            started.append(self._start_redis())
            if self.config.embedded_search:
                started.append(self._start_search())
            self._write_state(started)
            env = self._server_env(credentials)
            if not (self.data_dir / "home" / "argilla.db").exists():
                self._create_database(python, env, credentials)
            server = proc.spawn(
                "argilla-server",
                [
                    str(python),
                    "-m",
                    "argilla_server",
                    "start",
                    "--host",
                    LOOPBACK,
                    "--port",
                    str(self.config.server_port),
                ],
                env,
                self.logs / "argilla-server.log",
            )
            started.append(server)
            self._write_state(started)
            proc.wait_until(
                lambda: proc.http_ok(f"{self.config.server_url}/api/v1/version"),
                f"argilla-server on {self.config.server_url}",
                server,
                self.logs / "argilla-server.log",
                self.config.startup_timeout_s,
            )
        except BaseException:
            self._stop_all(started)
            raise
        return self.connection()

    def status(self) -> StackStatus:
        records = self._read_state()
        running = bool(records) and all(r.alive() for r in records)
        if running:
            running = proc.http_ok(f"{self.config.server_url}/api/v1/version")
        return StackStatus(running=running, api_url=self.config.server_url, processes=records)

    def down(self) -> bool:
        """Stop the recorded processes; False when nothing was recorded (not running)."""
        records = self._read_state()
        self._stop_all(list(records))
        return bool(records)

    def connection(self) -> Connection:
        credentials = load_credentials(self.credentials_file)
        if credentials is None:
            raise StackError(
                f"no credentials in {self.data_dir}: start the stack with `zephyr annotate up`"
            )
        return Connection(
            api_url=self.config.server_url,
            api_key=credentials.api_key,
            username=credentials.username,
            password=credentials.password,
        )

    # ---- steps ------------------------------------------------------------------------------
    def _check_prerequisites(self) -> None:
        if shutil.which("redis-server") is None:
            raise StackError("redis-server is not installed (apt-get install -y redis-server)")
        ports = [("argilla-server", self.config.server_port), ("redis", self.config.redis_port)]
        if self.config.embedded_search:
            ports.append(("search engine", self.config.search_port))
        for what, port in ports:
            if not proc.port_free(port):
                raise StackError(
                    f"port {port} on {LOOPBACK} ({what}) is in use: "
                    "stop what holds it or pick another port"
                )

    def _prepare_folder(self) -> None:
        # Only the user may enter: the database holds the API key, the logs the server's output.
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.data_dir.chmod(0o700)
        ignore = self.data_dir / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# data of the local Argilla stack: never committed\n*\n")
        for sub in ("home", "search", "redis", "logs"):
            (self.data_dir / sub).mkdir(exist_ok=True, mode=0o700)
        for path in self.data_dir.rglob("*"):  # a folder made by an older version: tighten it
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & 0o700)
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        self.tmp_dir.mkdir(mode=0o700)

    def _start_redis(self) -> ProcessRecord:
        redis_dir = self.data_dir / "redis"
        record = proc.spawn(
            "redis",
            [
                "redis-server",
                "--bind",
                LOOPBACK,
                "--port",
                str(self.config.redis_port),
                "--dir",
                str(redis_dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            proc.child_env(),
            self.logs / "redis.log",
        )
        proc.wait_until(
            lambda: proc.redis_ok(self.config.redis_port),
            "redis-server",
            record,
            self.logs / "redis.log",
            30,
        )
        return record

    def _start_search(self) -> ProcessRecord:
        binary = noida_binary(self.config.server_venv)
        record = proc.spawn(
            "noida-db",
            [
                str(binary),
                "start",
                "--only",
                "elasticsearch",
                "--host",
                LOOPBACK,
                "--elasticsearch-port",
                str(self.config.search_port),
                "--data-dir",
                str(self.data_dir / "search"),
            ],
            proc.child_env(),
            self.logs / "noida-db.log",
        )
        proc.wait_until(
            lambda: proc.http_ok(self.config.search_url),
            "noida-db",
            record,
            self.logs / "noida-db.log",
            30,
        )
        return record

    def _create_database(self, python: Path, env: dict[str, str], credentials: Credentials) -> None:
        log = self.logs / "setup.log"
        secrets = [
            credentials.password.get_secret_value(),
            credentials.api_key.get_secret_value(),
            credentials.auth_secret_key.get_secret_value(),
        ]
        proc.run_once(
            [str(python), "-m", "argilla_server", "database", "migrate"],
            env,
            log,
            "database migration",
            secrets,
        )
        # The password and key travel in the environment (readable by the user only), never
        # on the command line, which every local user can read in /proc while it runs.
        proc.run_once(
            [str(python), "-c", _CREATE_OWNER, credentials.username, OWNER_WORKSPACE],
            {
                **env,
                "ZEPHYR_OWNER_PASSWORD": credentials.password.get_secret_value(),
                "ZEPHYR_OWNER_API_KEY": credentials.api_key.get_secret_value(),
            },
            log,
            "creating the owner user",
            secrets,
        )

    def _server_env(self, credentials: Credentials) -> dict[str, str]:
        return proc.child_env(
            dict(
                ARGILLA_HOME_PATH=str(self.data_dir / "home"),
                ARGILLA_ELASTICSEARCH=self.config.search_url,
                ARGILLA_SEARCH_ENGINE=self.config.search_engine,
                ARGILLA_REDIS_URL=f"redis://{LOOPBACK}:{self.config.redis_port}/0",
                ARGILLA_AUTH_SECRET_KEY=credentials.auth_secret_key.get_secret_value(),
                TMPDIR=str(self.tmp_dir),
                HF_HUB_OFFLINE="1",
                HF_HUB_DISABLE_TELEMETRY="1",
            )
        )

    def _stop_all(self, records: list[ProcessRecord]) -> None:
        for record in reversed(records):  # server first, Redis last
            proc.stop(record)
        self.state_file.unlink(missing_ok=True)
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    # ---- state file -------------------------------------------------------------------------
    def _read_state(self) -> tuple[ProcessRecord, ...]:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            return tuple(ProcessRecord(**item) for item in data["processes"])
        except FileNotFoundError:
            return ()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StackStateError(
                f"{self.state_file}: unreadable stack state ({exc}); remove it if no stack runs"
            ) from exc

    def _write_state(self, records: list[ProcessRecord]) -> None:
        payload = {"api_url": self.config.server_url, "processes": [asdict(r) for r in records]}
        with atomic_file(self.state_file) as handle:
            json.dump(payload, handle, indent=2)
