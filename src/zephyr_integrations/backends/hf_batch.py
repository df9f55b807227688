"""The rows decoding together: one left-padded KV cache that grows and shrinks between steps.

Each row is right-aligned in the cache: ``[padding, its context]``. Every decode step appends one
column for all rows. New rows are prefilled (one padded forward of their contexts) and merged in,
the narrower side padded on the left; rows that finish are dropped and leading columns that only
padding occupies are trimmed. Positions are per row (the row's own token count), and padding is
masked out of attention, which is exactly what ``generate`` does for a left-padded batch.

Works for models whose cache is per-layer key/value tensors (Llama, Mistral, Qwen, ... - the
Zephyr family included).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import DynamicCache, PreTrainedModel


class RunningBatch:
    """The KV cache of the running rows, in batch order."""

    def __init__(self, model: PreTrainedModel, pad_id: int) -> None:
        self.model = model
        self.pad_id = pad_id
        self.cache: DynamicCache | None = None
        self.mask = torch.zeros((0, 0), dtype=torch.long, device=model.device)
        self.positions = torch.zeros(0, dtype=torch.long, device=model.device)

    @property
    def size(self) -> int:
        return int(self.mask.shape[0])

    @property
    def width(self) -> int:
        return int(self.mask.shape[1])

    def clear(self) -> None:
        self.cache = None
        self.mask = self.mask.new_zeros((0, 0))
        self.positions = self.positions.new_zeros(0)

    def decode(self, tokens: Sequence[int]) -> torch.Tensor:
        """One step for every row: feed each its last token; the next-token logits ``[B, V]``."""
        device = self.model.device
        ids = torch.tensor(tokens, dtype=torch.long, device=device).unsqueeze(-1)
        mask = torch.cat([self.mask, self.mask.new_ones((self.size, 1))], dim=1)
        try:
            out = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=self.positions.unsqueeze(-1),
                cache=self.cache,
                use_cache=True,
            )
        except BaseException:
            self._undo_partial_step()
            raise
        self.mask = mask
        self.positions = self.positions + 1
        return out.logits[:, -1, :]

    def prefill(self, contexts: Sequence[Sequence[int]]) -> torch.Tensor:
        """Read new rows' contexts and append the rows; their next-token logits ``[n, V]``."""
        device = self.model.device
        width = max(len(c) for c in contexts)
        ids = torch.full((len(contexts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(contexts), width), dtype=torch.long)
        for row, context in enumerate(contexts):
            ids[row, width - len(context) :] = torch.tensor(context, dtype=torch.long)
            mask[row, width - len(context) :] = 1
        ids, mask = ids.to(device), mask.to(device)
        positions = (mask.cumsum(dim=-1) - 1).clamp(min=0)
        cache = DynamicCache()
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        lengths = torch.tensor([len(c) for c in contexts], dtype=torch.long, device=device)
        self._append(cache, mask, lengths)
        return out.logits[:, -1, :]

    def keep(self, rows: Sequence[int]) -> None:
        """Keep only ``rows`` (batch indices, in order), then trim all-padding columns."""
        if not rows:
            self.clear()
            return
        if list(rows) == list(range(self.size)):
            return
        index = torch.tensor(rows, dtype=torch.long, device=self.mask.device)
        self.mask = self.mask.index_select(0, index)
        self.positions = self.positions.index_select(0, index)
        occupied = self.mask.any(dim=0).nonzero()
        start = int(occupied[0]) if occupied.numel() else self.width
        self.mask = self.mask[:, start:]
        for layer in _layers(self.cache):
            layer.keys = layer.keys.index_select(0, index)[:, :, start:]
            layer.values = layer.values.index_select(0, index)[:, :, start:]

    def _append(self, cache: DynamicCache, mask: torch.Tensor, lengths: torch.Tensor) -> None:
        if self.cache is None:
            self.cache, self.mask, self.positions = cache, mask, lengths
            return
        width = max(self.width, int(mask.shape[1]))
        # Everything is built first and assigned last: a failure (out of memory) leaves the
        # running rows as they were.
        merged = [
            (
                torch.cat([_pad_left(old.keys, width), _pad_left(new.keys, width)]),
                torch.cat([_pad_left(old.values, width), _pad_left(new.values, width)]),
            )
            for old, new in zip(_layers(self.cache), _layers(cache), strict=True)
        ]
        merged_mask = torch.cat([_pad_left(self.mask, width), _pad_left(mask, width)])
        for layer, (keys, values) in zip(_layers(self.cache), merged, strict=True):
            layer.keys, layer.values = keys, values
        self.mask = merged_mask
        self.positions = torch.cat([self.positions, lengths])

    def _undo_partial_step(self) -> None:
        """After a failed decode step, drop the column some layers already appended."""
        for layer in _layers(self.cache):
            if layer.keys is not None and int(layer.keys.shape[-2]) > self.width:
                layer.keys = layer.keys[:, :, : self.width]
                layer.values = layer.values[:, :, : self.width]


def _layers(cache: DynamicCache | None) -> list[Any]:
    """The cache's per-layer key/value holders (``keys``, ``values``: ``[B, heads, W, dim]``)."""
    return [] if cache is None else list(cache.layers)


def _pad_left(tensor: torch.Tensor, width: int) -> torch.Tensor:
    """``tensor`` (rows first, sequence on dim 1 for masks, dim 2 for keys) padded to ``width``."""
    dim = 1 if tensor.dim() == 2 else 2
    missing = width - int(tensor.shape[dim])
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)
