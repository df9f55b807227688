"""A loaded Transformers model and the continuous-batching scheduler that generates with it.

This module (with the ``hf_*`` modules it uses) is the only place that touches torch. It is
imported on first use, so constructing a chat model never pays for importing torch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from zephyr_integrations.backends.base import Generation, GenerationParams
from zephyr_integrations.backends.hf_batch import RunningBatch
from zephyr_integrations.backends.hf_grammar import GrammarCache, TokenMasks
from zephyr_integrations.backends.hf_limits import BatchLimits
from zephyr_integrations.backends.hf_scheduler import Scheduler
from zephyr_integrations.backends.hf_sequence import (
    Decoding,
    GenerationCancelledError,
    deadline_after,
)
from zephyr_integrations.backends.hf_sequence import (
    Sequence as Row,
)
from zephyr_integrations.template import EOS

DEFAULT_MAX_NEW_TOKENS = 512

__all__ = ["DEFAULT_MAX_NEW_TOKENS", "GenerationCancelledError", "TransformersEngine"]


@dataclass
class TransformersEngine:
    """A model and its tokenizer, loaded once; every request runs through its scheduler."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    model_name: str
    eos_ids: frozenset[int]
    text_eos: tuple[str, ...]
    context_length: int | None
    limits: BatchLimits = field(default_factory=BatchLimits)
    limits_set: bool = False
    """Whether a backend set the caps explicitly (then others must agree with them)."""
    _grammars: GrammarCache | None = None
    _masks: TokenMasks | None = None
    _scheduler: Scheduler | None = None
    _tokenizing: threading.Lock = field(default_factory=threading.Lock)
    """One encode at a time: a Rust tokenizer whose padding settings change under another
    thread's encode raises "Already borrowed"."""

    @property
    def grammars(self) -> GrammarCache:
        """This model's compiled grammars (constrained decoding), cached per grammar."""
        if self._grammars is None:
            self._grammars = GrammarCache(self.tokenizer, self.vocab_size)
        return self._grammars

    @property
    def vocab_size(self) -> int:
        return int(self.model.get_output_embeddings().weight.shape[0])

    @property
    def scheduler(self) -> Scheduler:
        """The continuous-batching loop every request of this model goes through."""
        if self._scheduler is None:
            batch = RunningBatch(self.model, int(self.tokenizer.pad_token_id))
            self._scheduler = Scheduler(batch, self.limits, self._token_masks)
        return self._scheduler

    def adopt_limits(self, limits: BatchLimits, what: str) -> None:
        """Take a backend's explicit caps, unless another backend already set different ones."""
        if self.limits_set and limits != self.limits:
            raise ValueError(
                f"{what} is already loaded with max_batch_size={self.limits.max_batch_size}, "
                f"max_cache_tokens={self.limits.max_cache_tokens}; it has one batch, so every "
                "backend on it must ask for the same caps (or none)"
            )
        self.limits, self.limits_set = limits, True
        if self._scheduler is not None:
            self._scheduler.limits = limits

    def _token_masks(self) -> TokenMasks:
        if self._masks is None:
            self._masks = TokenMasks(self.vocab_size, self.eos_ids)
        return self._masks

    @classmethod
    def load(
        cls,
        source: str,
        model_name: str,
        *,
        dtype: str,
        device: str | None,
        limits: BatchLimits | None = None,
        **kwargs: Any,
    ) -> TransformersEngine:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        torch_dtype: Any = dtype if dtype == "auto" else getattr(torch, dtype)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, **kwargs)
        model.to(device or _default_device())
        model.eval()
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        eos_ids = set(_as_list(model.generation_config.eos_token_id))
        if tokenizer.eos_token_id is not None:
            eos_ids.add(tokenizer.eos_token_id)
        # Zephyr's turns end with "</s>". Where that is a special token it is an EOS id; where the
        # tokenizer splits it into pieces (another model given the Zephyr format) it is a stop
        # string, so it can neither run on nor leak into the answer.
        if EOS in tokenizer.all_special_tokens:
            eos_ids.update(_as_list(tokenizer.convert_tokens_to_ids(EOS)))
            text_eos: tuple[str, ...] = ()
        else:
            text_eos = (EOS,)
        context = getattr(model.config, "max_position_embeddings", None)
        return cls(
            model,
            tokenizer,
            model_name,
            frozenset(eos_ids),
            text_eos,
            context,
            limits or BatchLimits(),
        )

    def encode(self, prompts: Sequence[str]) -> Any:
        """Tokenize with the tokenizer's own special tokens: BOS is added here, exactly once."""
        with self._tokenizing:
            return self.tokenizer(
                list(prompts), return_tensors="pt", padding=True, add_special_tokens=True
            )

    def submit(
        self, prompt: str, params: GenerationParams, on_text: Callable[[str], None] | None = None
    ) -> Row:
        """Queue one request; its ``future`` resolves to a :class:`Generation`."""
        sequence = self.prepare(prompt, params, on_text)
        self.scheduler.submit(sequence)
        return sequence

    def prepare(
        self, prompt: str, params: GenerationParams, on_text: Callable[[str], None] | None = None
    ) -> Row:
        """One request, ready for :meth:`Scheduler.submit`.

        Raises here, in the caller's thread, for a prompt longer than the context, a grammar
        that cannot be compiled or a request larger than the KV-cache cap: a bad request never
        reaches the batch.
        """
        with self._tokenizing:
            encoded = self.tokenizer(prompt, add_special_tokens=True)["input_ids"]
        prompt_ids = [int(t) for t in encoded]
        budget = params.max_new_tokens or DEFAULT_MAX_NEW_TOKENS
        if self.context_length is not None:
            room = self.context_length - len(prompt_ids)
            if room <= 0:
                raise ValueError(
                    f"the prompt is {len(prompt_ids)} tokens but {self.model_name} reads at most "
                    f"{self.context_length}: shorten the conversation"
                )
            budget = min(budget, room)
        generator = torch.Generator()
        if params.seed is not None:
            generator.manual_seed(params.seed)
        else:
            generator.seed()
        matcher = None if params.grammar is None else self.grammars.matcher(params.grammar)
        sequence = Row(
            prompt_ids=prompt_ids,
            params=params,
            budget=budget,
            decoding=Decoding(self.tokenizer, self.eos_ids, self.text_eos, self.model_name),
            generator=generator,
            matcher=matcher,
            on_text=on_text,
            deadline=deadline_after(params.timeout),
        )
        self.scheduler.check_fits(sequence)
        return sequence

    def cancel(self, sequence: Row) -> None:
        """The caller left: the sequence leaves the batch (or the queue) at once."""
        if not sequence.done:
            sequence.cancel()
            self.scheduler.wake()

    def run(
        self,
        prompts: Sequence[str],
        params: GenerationParams,
        *,
        on_text: Callable[[str], None] | None = None,
    ) -> list[Generation]:
        """Generate for every prompt (they join the running batch) and wait for all."""
        sequences = [self.prepare(prompt, params, on_text) for prompt in prompts]
        self.scheduler.submit(*sequences)
        try:
            return [sequence.future.result() for sequence in sequences]
        finally:
            for sequence in sequences:
                self.cancel(sequence)


def _as_list(value: int | list[int] | None) -> list[int]:
    if value is None:
        return []
    return [value] if isinstance(value, int) else list(value)


def _default_device() -> str:
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"
