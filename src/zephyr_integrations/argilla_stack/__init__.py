"""A local Argilla (argilla-server 2.8 + web UI, Redis, an Elasticsearch-compatible engine) in one
call: `LocalStack(StackConfig()).up()`, or `zephyr annotate up`."""

from zephyr_integrations.argilla_stack.config import ExistingArgilla, StackConfig, StackConfigError
from zephyr_integrations.argilla_stack.credentials import Credentials
from zephyr_integrations.argilla_stack.processes import StackError
from zephyr_integrations.argilla_stack.server_venv import ServerInstallError, ensure_server_venv
from zephyr_integrations.argilla_stack.stack import Connection, LocalStack, StackStatus

__all__ = [
    "Connection",
    "Credentials",
    "ExistingArgilla",
    "LocalStack",
    "ServerInstallError",
    "StackConfig",
    "StackConfigError",
    "StackError",
    "StackStatus",
    "ensure_server_venv",
]
