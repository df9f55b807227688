"""What a TGI server tells about itself (``/info``) and how it counts tokens (``/tokenize``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class TGIInfo:
    """The fields of ``/info`` a client needs (older servers' names accepted)."""

    base_url: str
    model_id: str
    max_input_tokens: int | None
    max_total_tokens: int | None
    max_stop_sequences: int = 4
    headers: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    timeout: float = 120.0

    @classmethod
    def from_json(
        cls, base_url: str, body: dict[str, Any], headers: dict[str, str], timeout: float
    ) -> TGIInfo:
        max_input = body.get("max_input_tokens", body.get("max_input_length"))
        return cls(
            base_url=base_url,
            model_id=str(body.get("model_id") or "tgi"),
            max_input_tokens=int(max_input) if max_input is not None else None,
            max_total_tokens=_int_or_none(body.get("max_total_tokens")),
            max_stop_sequences=int(body.get("max_stop_sequences") or 4),
            headers=headers,
            timeout=timeout,
        )

    def count_tokens(self, prompt: str) -> int:
        """The server's own count of ``prompt``'s tokens (``POST /tokenize``)."""
        tokens = self.tokenize(prompt)
        if tokens is None:
            raise LookupError(f"TGI at {self.base_url} has no tokenizer (/tokenize answered 404)")
        return len(tokens)

    def tokenize(self, prompt: str) -> list[tuple[int, str, int, int]] | None:
        """The server's tokens of ``prompt`` (``POST /tokenize``), special tokens included;
        ``None`` when the server has no tokenizer (404)."""
        response = httpx.post(
            f"{self.base_url}/tokenize",
            json={"inputs": prompt},
            headers=self.headers,
            timeout=self.timeout,
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return [(t["id"], t["text"], t["start"], t["stop"]) for t in response.json()]

    def may_exceed_input_limit(self, prompt: str) -> bool:
        """False when ``prompt`` surely fits: a byte-level tokenizer makes at most one token per
        UTF-8 byte, plus BOS. Only prompts near the limit cost a ``/tokenize`` call."""
        if self.max_input_tokens is None:
            return False
        return len(prompt.encode("utf-8")) + 1 > self.max_input_tokens


def fetch_info(base_url: str, headers: dict[str, str], timeout: float) -> TGIInfo:
    response = httpx.get(f"{base_url}/info", headers=headers, timeout=timeout)
    response.raise_for_status()
    return TGIInfo.from_json(base_url, response.json(), headers, timeout)


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None
