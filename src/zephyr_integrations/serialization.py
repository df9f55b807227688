"""ChatZephyr as a LangChain-serializable, picklable object.

``dumpd``/``dumps`` write the constructor arguments, with ``api_key`` as the secret id
``ZEPHYR_API_KEY`` (never its value); ``load(..., valid_namespaces=["zephyr_integrations"])``
builds the model again. ``pickle`` keeps the configuration and drops what is live (a named
backend's HTTP client, locks, the lazily read profile): unpickling builds them again, so a
pickled model works in another process.
"""

from __future__ import annotations

from typing import Any

from zephyr_integrations.profile import BackendProfile

SECRET_ID = "ZEPHYR_API_KEY"


class SerializableChat:
    """Mixed into ChatZephyr, before ``BaseChatModel``."""

    backend: Any
    profile: Any

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["zephyr_integrations", "chat_model"]``: the module that defines ChatZephyr."""
        return ["zephyr_integrations", "chat_model"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": SECRET_ID}

    def __getstate__(self) -> dict[Any, Any]:
        parent: Any = super()
        state: dict[Any, Any] = dict(parent.__getstate__())
        fields = dict(state["__dict__"])
        if isinstance(fields.get("profile"), BackendProfile):
            fields["profile"] = None  # read again from the rebuilt backend
        fields.pop("_serialized", None)  # LangChain's cached dumpd, rebuilt on demand
        state["__dict__"] = fields
        private = dict(state.get("__pydantic_private__") or {})
        if isinstance(self.backend, str):
            private.pop("_backend", None)  # a named backend is built again
        state["__pydantic_private__"] = private
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        parent: Any = super()
        parent.__setstate__(state)
        if isinstance(self.backend, str) or self.profile is None:
            self._connect()

    def _connect(self) -> None:
        raise NotImplementedError
