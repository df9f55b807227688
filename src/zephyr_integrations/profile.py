"""``ChatZephyr.profile``: langchain-core's ``ModelProfile``, from what the backend knows.

Capabilities are ChatZephyr's own (tools, forced tool choice, streamed tool calls, structured
output where the backend constrains decoding, text in and out). Token limits come from the
backend (TGI's ``/info``, or the local model's config) when first read, so that building a chat
model never touches the network; a failed read is retried at the next access.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any, get_type_hints

from langchain_core.language_models import ModelProfile

from zephyr_integrations.backends.base import Backend, TokenLimits

logger = logging.getLogger(__name__)

TEXT_ONLY = {
    "text_inputs": True,
    "image_inputs": False,
    "image_url_inputs": False,
    "pdf_inputs": False,
    "audio_inputs": False,
    "video_inputs": False,
    "image_tool_message": False,
    "pdf_tool_message": False,
    "text_outputs": True,
    "image_outputs": False,
    "audio_outputs": False,
    "video_outputs": False,
    "reasoning_output": False,
}


def capabilities(backend: Backend) -> dict[str, Any]:
    """What ChatZephyr can do on ``backend``, known without asking it anything."""
    return {
        "tool_calling": True,
        "tool_choice": True,
        "tool_call_streaming": True,
        "structured_output": bool(getattr(backend, "supports_grammar", False)),
        "temperature": True,
        **TEXT_ONLY,
    }


def limits_profile(limits: TokenLimits) -> dict[str, Any]:
    """``max_input_tokens`` and ``max_output_tokens`` (a reply can use what a one-token prompt
    leaves of ``max_total_tokens``)."""
    profile: dict[str, Any] = {}
    if limits.max_input_tokens is not None:
        profile["max_input_tokens"] = limits.max_input_tokens
    if limits.max_total_tokens is not None:
        profile["max_output_tokens"] = limits.max_total_tokens - 1
    return profile


class BackendProfile(Mapping[str, Any]):
    """A ``ModelProfile`` whose token limits are read from the backend on first access."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._known = capabilities(backend)
        self._complete: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def _data(self) -> dict[str, Any]:
        if self._complete is not None:
            return self._complete
        read = getattr(self.backend, "token_limits", None)
        if read is None:
            self._complete = self._known
            return self._complete
        with self._lock:
            if self._complete is None:
                try:
                    limits = read()
                except Exception as exc:  # the profile is optional: report, retry next time
                    logger.warning("the model's token limits could not be read: %s", exc)
                    return self._known
                self._complete = {**limits_profile(limits), **self._known}
        return self._complete

    def __getitem__(self, key: str) -> Any:
        if key in self._known:  # a capability: known without asking the backend (so that
            return self._known[key]  # create_agent's per-call check never waits on /info)
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __bool__(self) -> bool:  # never empty: answered without reading the limits
        return True

    def __deepcopy__(self, memo: dict[int, Any]) -> BackendProfile:
        """A copy that reads the same (or the copied) backend; no lock is copied."""
        copied = BackendProfile(memo.get(id(self.backend), self.backend))
        copied._complete = self._complete
        return copied

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled alone, a profile is the plain dict it reads as."""
        return (dict, (dict(self),))

    def __repr__(self) -> str:
        if self._complete is None:
            return f"BackendProfile({self._known!r}, token limits not read yet)"
        return repr(self._complete)


_INT_KEYS = ("max_input_tokens", "max_output_tokens")


def check_profile(profile: Any) -> Any:
    """A user-given profile, its known fields checked by type; raise naming the field."""
    if profile is None or isinstance(profile, BackendProfile):
        return profile
    if not isinstance(profile, Mapping):
        raise ValueError(f"profile={profile!r} is invalid: expected a dict (a ModelProfile)")
    declared = get_type_hints(ModelProfile)
    for key, value in profile.items():
        expected = declared.get(key)
        if key in _INT_KEYS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"profile[{key!r}]={value!r} is invalid: expected a positive integer"
                )
        elif expected is bool and not isinstance(value, bool):
            raise ValueError(f"profile[{key!r}]={value!r} is invalid: expected True or False")
        elif expected is str and not isinstance(value, str):
            raise ValueError(f"profile[{key!r}]={value!r} is invalid: expected a string")
    return profile
