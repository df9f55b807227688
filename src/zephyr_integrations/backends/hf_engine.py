"""Generation on a loaded Transformers model: batched, streamed, stoppable.

This is the only module that touches torch. It is imported on first use, so constructing a
chat model never pays for importing torch.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessorList,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    StoppingCriteria,
    StoppingCriteriaList,
    TextStreamer,
)

from zephyr_integrations.backends.base import FinishReason, Generation, GenerationParams
from zephyr_integrations.backends.hf_grammar import GrammarCache, GrammarLogitsProcessor
from zephyr_integrations.backends.stops import cut_at_stop
from zephyr_integrations.template import EOS

DEFAULT_MAX_NEW_TOKENS = 512


class GenerationCancelledError(Exception):
    """The caller went away; generation was stopped."""


@dataclass
class TransformersEngine:
    """A model and its tokenizer, loaded once, used by one generation at a time."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    model_name: str
    eos_ids: frozenset[int]
    text_eos: tuple[str, ...]
    context_length: int | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _grammars: GrammarCache | None = None

    @property
    def grammars(self) -> GrammarCache:
        """This model's compiled grammars (constrained decoding), cached per grammar."""
        if self._grammars is None:
            vocab = int(self.model.get_output_embeddings().weight.shape[0])
            self._grammars = GrammarCache(self.tokenizer, vocab)
        return self._grammars

    @classmethod
    def load(
        cls, source: str, model_name: str, *, dtype: str, device: str | None, **kwargs: Any
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
        return cls(model, tokenizer, model_name, frozenset(eos_ids), text_eos, context)

    def encode(self, prompts: Sequence[str]) -> Any:
        """Tokenize with the tokenizer's own special tokens: BOS is added here, exactly once."""
        return self.tokenizer(
            list(prompts), return_tensors="pt", padding=True, add_special_tokens=True
        )

    def run(
        self,
        prompts: Sequence[str],
        params: GenerationParams,
        *,
        cancel: threading.Event | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> list[Generation]:
        """Generate for ``prompts`` in one left-padded batch (one ``generate`` call)."""
        encoded = self.encode(prompts)
        prompt_lengths = [int(n) for n in encoded["attention_mask"].sum(dim=1)]
        width = int(encoded["input_ids"].shape[1])
        stops = (*params.stop, *self.text_eos)
        finish = _FinishTracker(
            self.tokenizer,
            width,
            len(prompts),
            stops,
            self.eos_ids,
            cancel or threading.Event(),
            None if params.timeout is None else time.monotonic() + params.timeout,
        )
        config = self._generation_config(params, width)
        streamer = _CallbackStreamer(self.tokenizer, on_text) if on_text else None
        inputs = {key: value.to(self.model.device) for key, value in encoded.items()}
        processors = LogitsProcessorList()
        if params.grammar is not None:  # compiled (or taken from the cache) before the lock
            processors.append(
                GrammarLogitsProcessor(self.grammars, params.grammar, len(prompts), self.eos_ids)
            )
        with self.lock, torch.inference_mode():
            if params.seed is not None:
                torch.manual_seed(params.seed)
            output = self.model.generate(
                **inputs,
                generation_config=config,
                stopping_criteria=StoppingCriteriaList([finish]),
                logits_processor=processors,
                streamer=streamer,
            )
        if finish.timed_out:
            raise TimeoutError(
                f"generation took longer than timeout={params.timeout} s and was stopped"
            )
        if finish.cancelled:
            raise GenerationCancelledError("generation was cancelled")
        new_tokens = output[:, width:].tolist()
        return [
            self._finish(row, prompt_lengths[i], finish, i, stops)
            for i, row in enumerate(new_tokens)
        ]

    def _finish(
        self,
        tokens: list[int],
        prompt_tokens: int,
        tracker: _FinishTracker,
        row: int,
        stops: tuple[str, ...],
    ) -> Generation:
        reason: FinishReason = tracker.reasons[row] or "length"
        length = tracker.lengths[row] if tracker.reasons[row] else len(tokens)
        text = str(self.tokenizer.decode(tokens[:length], skip_special_tokens=True))
        text, matched = cut_at_stop(text, stops)
        if (
            matched is not None
            and matched in self.text_eos
            and matched not in self._user_stops(stops)
        ):
            reason, matched = "eos_token", None
        return Generation(
            text=text,
            finish_reason=reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=length,
            model=self.model_name,
            stop_sequence=matched,
        )

    def _user_stops(self, stops: tuple[str, ...]) -> tuple[str, ...]:
        return stops[: len(stops) - len(self.text_eos)]

    def _generation_config(self, params: GenerationParams, prompt_width: int) -> GenerationConfig:
        config = copy.deepcopy(self.model.generation_config)
        budget = params.max_new_tokens or DEFAULT_MAX_NEW_TOKENS
        if self.context_length is not None:
            room = self.context_length - prompt_width
            if room <= 0:
                raise ValueError(
                    f"the prompt is {prompt_width} tokens but {self.model_name} reads at most "
                    f"{self.context_length}: shorten the conversation"
                )
            budget = min(budget, room)
        config.max_new_tokens = budget
        config.max_length = None
        config.min_new_tokens = None
        config.eos_token_id = sorted(self.eos_ids)
        config.pad_token_id = self.tokenizer.pad_token_id
        config.num_return_sequences = 1
        config.num_beams = 1
        if params.greedy:
            config.do_sample = False
            config.temperature = None
            config.top_p = None
            config.top_k = None
        else:
            config.do_sample = True
            config.temperature = params.temperature
            config.top_p = params.top_p
            config.top_k = params.top_k if params.top_k is not None else 0
        config.repetition_penalty = params.repetition_penalty
        return config


class _FinishTracker(StoppingCriteria):
    """Stops each sequence on EOS or a stop string, and remembers when and why.

    Also stops the whole batch when the caller cancels or the deadline passes.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        prompt_width: int,
        batch: int,
        stops: tuple[str, ...],
        eos_ids: frozenset[int],
        cancel: threading.Event,
        deadline: float | None,
    ) -> None:
        self.tokenizer = tokenizer
        self.prompt_width = prompt_width
        self.stops = stops
        # Enough tokens to hold the longest stop string, even one byte per token.
        self.window = 4 * max((len(s) for s in stops), default=0) + 4
        self.eos_ids = eos_ids
        self.cancel = cancel
        self.deadline = deadline
        self.reasons: list[FinishReason | None] = [None] * batch
        self.lengths = [0] * batch
        self.cancelled = False
        self.timed_out = False

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> Any:
        generated = int(input_ids.shape[1]) - self.prompt_width
        last_tokens = input_ids[:, -1].tolist()
        for row, token in enumerate(last_tokens):
            if self.reasons[row] is not None:
                continue
            if token in self.eos_ids:
                self.reasons[row], self.lengths[row] = "eos_token", generated
            elif self.stops and self._ends_with_stop(input_ids[row], generated):
                self.reasons[row], self.lengths[row] = "stop_sequence", generated
        if self.cancel.is_set():
            self.cancelled = True
        elif self.deadline is not None and time.monotonic() > self.deadline:
            self.timed_out = True
        stop_all = self.cancelled or self.timed_out
        done = [stop_all or reason is not None for reason in self.reasons]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _ends_with_stop(self, ids: torch.Tensor, generated: int) -> bool:
        window = ids[-min(generated, self.window) :].tolist()
        text = str(self.tokenizer.decode(window, skip_special_tokens=True))
        return any(stop in text for stop in self.stops)


class _CallbackStreamer(TextStreamer):
    """Hands each piece of decoded text to a callback (skipping the prompt and empty pieces)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, on_text: Callable[[str], None]):
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self._on_text = on_text

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self._on_text(text)


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
