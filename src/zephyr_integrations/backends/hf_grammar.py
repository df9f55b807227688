"""Constrained decoding on a Transformers model: an llguidance token mask as a logits processor.

Each engine keeps one llguidance tokenizer and, per distinct grammar, one compiled matcher that
is copied (``deep_copy``) for every sequence, so a grammar is compiled once per model.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import torch
from transformers import LogitsProcessor, PreTrainedTokenizerBase

from zephyr_integrations.backends.base import Grammar, GrammarError
from zephyr_integrations.backends.grammar import compile_grammar

_SHIFTS = torch.arange(32, dtype=torch.int32)


def _bit(position: int) -> int:
    """Bit ``position`` of a signed 32-bit mask word."""
    return (1 << position) - (1 << 32) if position == 31 else 1 << position


class GrammarCache:
    """Compiled grammars for one tokenizer, least recently used dropped past ``size``."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, vocab_size: int, size: int = 64):
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.size = size
        self.compiled = 0
        """How many grammars were compiled (a cache miss each)."""
        self._lock = threading.Lock()
        self._matchers: OrderedDict[Grammar, Any] = OrderedDict()
        self._lltokenizer: Any = None

    def matcher(self, grammar: Grammar) -> Any:
        """A fresh llguidance matcher for ``grammar`` (compiled on first use, then copied)."""
        with self._lock:
            pristine = self._matchers.get(grammar)
            if pristine is None:
                pristine = self._compile(grammar)
                self._matchers[grammar] = pristine
                self.compiled += 1
                while len(self._matchers) > self.size:
                    self._matchers.popitem(last=False)
            self._matchers.move_to_end(grammar)
            return pristine.deep_copy()

    def _compile(self, grammar: Grammar) -> Any:
        import llguidance
        import llguidance.hf

        if self._lltokenizer is None:
            tokenizer: Any = self.tokenizer  # a fast tokenizer
            self._lltokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=self.vocab_size)
        matcher = llguidance.LLMatcher(self._lltokenizer, compile_grammar(grammar))
        if matcher.is_error():
            raise GrammarError(f"the {grammar.kind} grammar cannot be compiled: "
                               f"{matcher.get_error()}")  # fmt: skip
        return matcher


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks every token the grammar does not allow next, one matcher per sequence.

    A sequence whose grammar is complete may only end (EOS); so may one whose matcher failed
    (which a token from the mask cannot cause). The padding of ended sequences is not fed to
    their matchers.
    """

    def __init__(
        self, cache: GrammarCache, grammar: Grammar, batch: int, eos_ids: frozenset[int]
    ) -> None:
        self.matchers = [cache.matcher(grammar) for _ in range(batch)]
        self.mask = torch.full((batch, (cache.vocab_size + 31) // 32), -1, dtype=torch.int32)
        self.only_eos = torch.zeros((cache.vocab_size + 31) // 32, dtype=torch.int32)
        for token in eos_ids:
            if token < cache.vocab_size:
                self.only_eos[token // 32] |= _bit(token % 32)
        self.started = False

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> Any:
        last = input_ids[:, -1].tolist()
        for row, matcher in enumerate(self.matchers):
            if self.started and not matcher.is_stopped():
                matcher.consume_token(int(last[row]))
            if matcher.is_stopped() or matcher.is_error():
                self.mask[row] = self.only_eos  # the grammar is complete: end here
                continue
            view = self.mask[row]
            matcher.unsafe_compute_mask_ptr(view.data_ptr(), view.numel() * 4)
        self.started = True
        allowed = ((self.mask.unsqueeze(-1) >> _SHIFTS) & 1).view(len(self.matchers), -1)
        allowed = allowed[:, : scores.shape[1]].to(device=scores.device, dtype=torch.bool)
        return scores.masked_fill(~allowed, float("-inf"))
