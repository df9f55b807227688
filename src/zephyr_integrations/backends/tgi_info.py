"""What a TGI server tells about itself (``GET /info``), read as every version writes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zephyr_integrations.errors import ZephyrResponseError


@dataclass(frozen=True)
class TGIInfo:
    """The fields of ``/info`` a client needs (TGI <= 2.0's ``max_input_length`` accepted)."""

    base_url: str
    model_id: str
    max_input_tokens: int | None
    max_total_tokens: int | None
    max_stop_sequences: int = 4

    @classmethod
    def from_json(cls, base_url: str, body: Any) -> TGIInfo:
        if not isinstance(body, dict):
            raise ZephyrResponseError(
                f"{base_url}/info did not answer a JSON object: is this a TGI server?",
                url=base_url,
            )
        max_input = body.get("max_input_tokens", body.get("max_input_length"))
        return cls(
            base_url=base_url,
            model_id=str(body.get("model_id") or "tgi"),
            max_input_tokens=_count(max_input),
            max_total_tokens=_count(body.get("max_total_tokens")),
            max_stop_sequences=_count(body.get("max_stop_sequences")) or 4,
        )

    def may_exceed_input_limit(self, prompt: str) -> bool:
        """False when ``prompt`` surely fits: a byte-level tokenizer makes at most one token per
        UTF-8 byte, plus BOS. Only prompts near the limit cost a ``/tokenize`` call."""
        if self.max_input_tokens is None:
            return False
        return len(prompt.encode("utf-8")) + 1 > self.max_input_tokens


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None
