"""The local Transformers backend's options, as a validated value object (no torch here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from zephyr_integrations.backends.hf_limits import BatchLimits

Dtype = Literal["auto", "float32", "bfloat16", "float16"]
DEFAULT_MAX_BATCH_SIZE = 64
DTYPES: tuple[str, ...] = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class TransformersOptions:
    """How to load and run a model on this machine; checked on creation, nothing loaded.

    Each field's ``metadata["doc"]`` says what it does (``zephyr backends`` lists them).
    """

    dtype: Dtype = field(
        default="auto", metadata={"doc": "weights dtype: auto (the checkpoint's), float32, ..."}
    )
    device: str | None = field(
        default=None, metadata={"doc": "cpu, cuda, cuda:1, mps (default: the best available)"}
    )
    revision: str | None = field(default=None, metadata={"doc": "a Hub branch, tag or commit"})
    gguf_file: str | None = field(
        default=None, metadata={"doc": "the GGUF file inside the model folder to load"}
    )
    trust_remote_code: bool = field(
        default=False, metadata={"doc": "run the model repository's own code"}
    )
    max_batch_size: int | None = field(
        default=None, metadata={"doc": "the most sequences decoding together (default 64)"}
    )
    max_cache_tokens: int | None = field(
        default=None, metadata={"doc": "the most KV-cache token positions (default: no cap)"}
    )

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(
                f"dtype={self.dtype!r} is invalid: expected auto, float32, bfloat16 or float16"
            )
        for name in ("device", "revision", "gguf_file"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{name}={value!r} is invalid: expected a non-empty string")
        if not isinstance(self.trust_remote_code, bool):
            raise ValueError(
                f"trust_remote_code={self.trust_remote_code!r} is invalid: expected true or false"
            )
        self.limits  # noqa: B018 - raises naming max_batch_size or max_cache_tokens

    @property
    def limits(self) -> BatchLimits:
        size = DEFAULT_MAX_BATCH_SIZE if self.max_batch_size is None else self.max_batch_size
        return BatchLimits(size, self.max_cache_tokens)
