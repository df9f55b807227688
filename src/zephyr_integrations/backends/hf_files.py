"""A Hugging Face model's facts without its weights: its context length and its tokenizer.

Read from a local model folder, or from the Hugging Face cache for a Hub id (never the network
for the config). The tokenizer is loaded once per (source, revision) and shared.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

Token = tuple[int, str, int, int]
"""``(id, text, start, stop)``, as TGI's ``/tokenize`` returns a token."""

CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")


def read_config(source: str, revision: str | None = None) -> dict[str, Any] | None:
    """``config.json`` of a model folder, or of a Hub id already in the local cache."""
    folder = Path(source)
    if folder.is_dir():
        path: Path | None = folder / "config.json"
    else:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return None
        found = try_to_load_from_cache(source, "config.json", revision=revision)
        path = Path(found) if isinstance(found, str) else None
    if path is None or not path.is_file():
        return None
    config = json.loads(path.read_text(encoding="utf-8"))
    return config if isinstance(config, dict) else None


def context_length(config: dict[str, Any] | None) -> int | None:
    """The most tokens the model reads at once, from its config (``None`` when unknown)."""
    if config is None:
        return None
    for scope in (config, config.get("text_config") or {}):
        for key in CONTEXT_KEYS:
            value = scope.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None


@functools.lru_cache(maxsize=16)
def load_tokenizer(
    source: str,
    revision: str | None = None,
    gguf_file: str | None = None,
    trust_remote_code: bool = False,
) -> Any:
    """The model's own tokenizer (transformers), without loading its weights."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise ImportError(
            "counting tokens with a model's tokenizer needs transformers: "
            "pip install 'zephyr-integrations[transformers]'"
        ) from exc
    options: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if revision is not None:
        options["revision"] = revision
    if gguf_file is not None:
        options["gguf_file"] = gguf_file
    return AutoTokenizer.from_pretrained(source, **options)


def tokenize(tokenizer: Any, text: str) -> list[Token]:
    """``text`` as the model reads a prompt (special tokens such as BOS included), in TGI's
    ``/tokenize`` shape. A tokenizer without offsets (a slow one) gives empty spans."""
    if getattr(tokenizer, "is_fast", False):
        encoded = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
        pairs = zip(encoded["input_ids"], encoded["offset_mapping"], strict=True)
        return [(int(i), text[start:stop], int(start), int(stop)) for i, (start, stop) in pairs]
    ids = tokenizer(text, add_special_tokens=True)["input_ids"]
    return [(int(i), "", 0, 0) for i in ids]
