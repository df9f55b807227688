"""Constrained decoding on a Transformers model: llguidance token masks, one matcher per row.

Each engine keeps one llguidance tokenizer and, per distinct grammar, one compiled matcher that
is copied (``deep_copy``) for every sequence, so a grammar is compiled once per model.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

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


class TokenMasks:
    """Masks, per grammar-constrained row of a step, every token its grammar does not allow next.

    A row whose grammar is complete may only end (EOS); so may one whose matcher failed (which a
    token from the mask cannot cause).
    """

    def __init__(self, vocab_size: int, eos_ids: frozenset[int]) -> None:
        self.words = (vocab_size + 31) // 32
        self.only_eos = torch.zeros(self.words, dtype=torch.int32)
        for token in eos_ids:
            if token < vocab_size:
                self.only_eos[token // 32] |= _bit(token % 32)

    def apply(self, scores: torch.Tensor, rows: list[int], matchers: list[Any]) -> None:
        """Set the disallowed logits of ``scores[rows]`` to ``-inf`` (in place)."""
        mask = torch.empty((len(rows), self.words), dtype=torch.int32)
        for position, matcher in enumerate(matchers):
            if matcher.is_stopped() or matcher.is_error():
                mask[position] = self.only_eos
                continue
            view = mask[position]
            matcher.unsafe_compute_mask_ptr(view.data_ptr(), view.numel() * 4)
        allowed = ((mask.unsqueeze(-1) >> _SHIFTS) & 1).view(len(rows), -1)
        allowed = allowed[:, : scores.shape[1]].to(device=scores.device, dtype=torch.bool)
        index = torch.tensor(rows, device=scores.device)
        scores[index] = scores[index].masked_fill(~allowed, float("-inf"))


def advance(matcher: Any, token: int) -> None:
    """Feed a generated token to a row's matcher (nothing once its grammar is complete)."""
    if not matcher.is_stopped() and not matcher.is_error():
        matcher.consume_token(token)
