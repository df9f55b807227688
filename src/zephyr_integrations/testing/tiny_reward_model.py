"""A tiny, deterministic, random-weights reward model (a sequence classifier with one label).

It loads with ``AutoModelForSequenceClassification.from_pretrained`` like Skywork's or ArmoRM's
reward models, in milliseconds, offline. Its scores are noise: test plumbing with it, never
content.
"""

from __future__ import annotations

from pathlib import Path

from zephyr_integrations.testing.tiny_model import tiny_mistral_config, tiny_tokenizer

#: The pad token of the tiny reward model: its own token (id 3), so an answer's closing ``</s>``
#: is never mistaken for padding.
PAD_TOKEN = "<pad>"


def make_tiny_reward_model(
    path: str | Path, *, seed: int = 0, chat_template: bool = True, num_labels: int = 1
) -> Path:
    """Write a tiny Mistral reward model (``MistralForSequenceClassification``) and its tokenizer
    into ``path``; return it.

    The tokenizer is the tiny Zephyr one (:func:`~zephyr_integrations.testing.tiny_model.
    tiny_tokenizer`) with ``<pad>`` as its pad token, and the Zephyr chat template unless
    ``chat_template`` is False (to test the error a model without one gives). ``num_labels``
    other than 1 makes a classifier that is not a reward model. The score head is drawn with a
    standard deviation of 1, so rewards spread over several units rather than hugging 0. Two
    builds with the same arguments are byte-identical.
    """
    import torch
    from transformers import MistralForSequenceClassification

    target = Path(path)
    target.mkdir(parents=True, exist_ok=True)
    tokenizer = tiny_tokenizer(seed=seed, pad_token=PAD_TOKEN)
    if not chat_template:
        tokenizer.chat_template = None
    pad_id = int(tokenizer.convert_tokens_to_ids(PAD_TOKEN))  # type: ignore[arg-type]

    torch.manual_seed(seed)
    config = tiny_mistral_config(len(tokenizer), pad_token_id=pad_id)
    config.num_labels = num_labels
    model = MistralForSequenceClassification(config)
    with torch.no_grad():
        model.score.weight.normal_(0.0, 1.0)
    tokenizer.save_pretrained(target)
    model.save_pretrained(target)
    return target
