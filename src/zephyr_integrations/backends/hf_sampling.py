"""The next token of every row of a step, each with its own sampling parameters.

Per row, in order: repetition penalty, grammar mask, then greedy ``argmax`` or sampling
(temperature, top-k, top-p). A sampled row draws one uniform number per token from its own
``torch.Generator`` and picks by inverse CDF, and the candidates it picks from depend only on its
own logits and parameters, so a seeded request gives the same tokens alone or in any batch.
"""

from __future__ import annotations

from collections.abc import Sequence as Rows

import torch

from zephyr_integrations.backends.hf_grammar import TokenMasks
from zephyr_integrations.backends.hf_sequence import Sequence


def next_tokens(logits: torch.Tensor, rows: Rows[Sequence], masks: TokenMasks | None) -> list[int]:
    """The token each row takes next; ``logits`` is ``[len(rows), vocab]``."""
    scores = logits.to(dtype=torch.float32, copy=True)
    _penalize_repetitions(scores, rows)
    grammar_rows = [i for i, row in enumerate(rows) if row.matcher is not None]
    if grammar_rows and masks is not None:
        masks.apply(scores, grammar_rows, [rows[i].matcher for i in grammar_rows])
    tokens: list[int] = scores.argmax(dim=-1).tolist()
    sampled = [i for i, row in enumerate(rows) if not row.params.greedy]
    filtered = [i for i in sampled if rows[i].params.top_k or rows[i].params.top_p]
    plain = [i for i in sampled if i not in filtered]
    for group, choose in ((plain, _sample_plain), (filtered, _sample_filtered)):
        if group:
            picked = choose(
                scores[torch.tensor(group, device=scores.device)], [rows[i] for i in group]
            )
            for i, token in zip(group, picked, strict=True):
                tokens[i] = token
    return tokens


def _penalize_repetitions(scores: torch.Tensor, rows: Rows[Sequence]) -> None:
    """As ``transformers``' penalty: seen tokens' logits divided (positive) or multiplied."""
    for i, row in enumerate(rows):
        penalty = row.params.repetition_penalty
        if penalty is None or penalty == 1.0:
            continue
        seen = row.seen_ids().to(scores.device)
        picked = scores[i, seen]
        scores[i, seen] = torch.where(picked < 0, picked * penalty, picked / penalty)


def _uniforms(rows: Rows[Sequence]) -> torch.Tensor:
    return torch.stack([torch.rand((), generator=row.generator) for row in rows])


def _temperatures(rows: Rows[Sequence], device: torch.device) -> torch.Tensor:
    return torch.tensor([row.params.temperature for row in rows], device=device).unsqueeze(-1)


def _pick(probs: torch.Tensor, rows: Rows[Sequence]) -> torch.Tensor:
    """Inverse CDF: for each row, the first candidate whose cumulative mass reaches u."""
    cdf = probs.cumsum(dim=-1)
    target = _uniforms(rows).to(probs.device).unsqueeze(-1) * cdf[:, -1:]
    index = torch.searchsorted(cdf, target).clamp(max=probs.shape[-1] - 1)
    return index


def _sample_plain(scores: torch.Tensor, rows: Rows[Sequence]) -> list[int]:
    probs = torch.softmax(scores / _temperatures(rows, scores.device), dim=-1)
    return [int(i) for i in _pick(probs, rows).squeeze(-1).tolist()]


def _sample_filtered(scores: torch.Tensor, rows: Rows[Sequence]) -> list[int]:
    """Top-k, then top-p (the smallest head of the sorted candidates holding ``top_p`` mass)."""
    scaled = scores / _temperatures(rows, scores.device)
    ordered, order = scaled.sort(dim=-1, descending=True, stable=True)
    vocab = ordered.shape[-1]
    ks = [row.params.top_k or vocab for row in rows]
    ranks = torch.arange(vocab, device=scores.device).unsqueeze(0)
    keep = ranks < torch.tensor(ks, device=scores.device).unsqueeze(-1)
    ordered = ordered.masked_fill(~keep, float("-inf"))
    tops = [row.params.top_p or 1.0 for row in rows]
    if any(top < 1.0 for top in tops):
        probs = torch.softmax(ordered, dim=-1)
        before = probs.cumsum(dim=-1) - probs
        keep = before < torch.tensor(tops, device=scores.device).unsqueeze(-1)
        keep[:, 0] = True
        ordered = ordered.masked_fill(~keep, float("-inf"))
    index = _pick(torch.softmax(ordered, dim=-1), rows)
    return [int(t) for t in order.gather(-1, index).squeeze(-1).tolist()]
