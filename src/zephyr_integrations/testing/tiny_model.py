"""A tiny, deterministic, random-weights Mistral that speaks the Zephyr chat format.

It loads with the same ``from_pretrained`` code as zephyr-7b-beta, in milliseconds, offline.
Its output is noise: test plumbing with it, never content.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zephyr_integrations.template import official_chat_template

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

_WORDS = (
    "the a an of to in and or is are was be not with for on at by from this that it as "
    "model answer question user assistant system prompt reply chosen rejected rating rank "
    "preference data train test tool call result weather city paris london number add two "
    "three four five six seven eight nine ten hello world please thanks yes no good bad "
    "helpful honest harmless true false why how what when where which who language text "
    "token stop stream batch align direct optimization reward policy reference beta loss"
).split()
_MARKERS = ("<|system|>\n", "<|user|>\n", "<|assistant|>\n", "</s>\n", "<tool_call>", "\n")


def _corpus(lines: int = 4000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    corpus = []
    for _ in range(lines):
        words = rng.choices(_WORDS, k=rng.randint(3, 14))
        corpus.append(rng.choice(_MARKERS) + " ".join(words) + rng.choice(".?!,:"))
    return corpus


def tiny_tokenizer(*, seed: int = 0, pad_token: str = "</s>") -> PreTrainedTokenizerFast:
    """The tiny models' tokenizer: byte-level BPE (1,024 tokens) with ``<unk>``, ``<s>``,
    ``</s>`` as ids 0, 1, 2 (and ``pad_token`` as id 3 when it is none of them); ``<s>``
    prepended on encoding; ``</s>`` as EOS; left padding; the official Zephyr chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>"]
    if pad_token not in specials:
        specials.append(pad_token)
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024,
        min_frequency=2,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_corpus(seed=seed), trainer=trainer)
    bpe.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token=pad_token,
        padding_side="left",
        model_max_length=2048,
    )
    tokenizer.chat_template = official_chat_template()
    return tokenizer


def make_tiny_zephyr(path: str | Path, *, seed: int = 0) -> Path:
    """Write a tiny Zephyr-templated Mistral model and tokenizer into ``path``; return it.

    Byte-level BPE (1,024 tokens) with ``<unk>``, ``<s>``, ``</s>`` as ids 0, 1, 2; ``<s>``
    prepended on encoding; ``</s>`` as EOS and pad; left padding; the official Zephyr chat
    template. Two builds with the same seed are byte-identical.
    """
    import torch
    from transformers import GenerationConfig, MistralForCausalLM

    target = Path(path)
    target.mkdir(parents=True, exist_ok=True)
    tokenizer = tiny_tokenizer(seed=seed)

    torch.manual_seed(seed)
    config = tiny_mistral_config(len(tokenizer), pad_token_id=2)
    model = MistralForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=1, eos_token_id=2, pad_token_id=2, do_sample=False, max_new_tokens=64
    )
    tokenizer.save_pretrained(target)
    model.save_pretrained(target)
    return target


def tiny_mistral_config(vocab_size: int, *, pad_token_id: int) -> Any:
    """The tiny models' shape: Mistral's architecture, 2 layers of width 64."""
    from transformers import MistralConfig

    return MistralConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=4096,  # its 600-token vocabulary makes prompts long
        sliding_window=None,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=pad_token_id,
        tie_word_embeddings=False,
    )
