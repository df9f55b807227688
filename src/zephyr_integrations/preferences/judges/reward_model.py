"""The ``reward-model`` judge: a sequence-classification reward model scores every answer.

Modern preference pipelines (Skywork-Reward, ArmoRM-style reward models, distilabel's
``RewardModelScore``) score a candidate with one forward pass of an
``AutoModelForSequenceClassification`` with a single label: the conversation plus the answer,
formatted with the reward model's *own* chat template, in; the label's logit, the reward, out.
This judge does that for every (conversation, answer) pair it is handed, many at a time: pairs
are sorted by length, cut into batches of ``batch_size``, right-padded with the model's pad token
(positions stay those of an unpadded pass, and the model pools its last non-pad token) and run
under ``torch.inference_mode()`` in a worker thread, so the event loop keeps serving the runner::

    judge = RewardModelJudge("Skywork/Skywork-Reward-V2-Qwen3-0.6B", batch_size=32)
    verdicts = await judge.ajudge([answers_to_prompt_1, answers_to_prompt_2])

Rewards are unbounded logits: :attr:`RewardModelJudge.scale` has no ``low`` or ``high`` and names
the model, so binarizing compares them only with each other. torch and transformers are imported
when a judge is built, never at import time.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zephyr_integrations.preferences.judging import JudgeError, Verdict
from zephyr_integrations.preferences.records import CandidateRow, ScoreScale

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DEFAULT_BATCH_SIZE = 16
#: Batches per ``ajudge`` call: sorting 4 batches' pairs by length together pads ~3% over an
#: ideal sort on 20-60-word answers, 1 batch's ~20% (benchmarks/reward_model.py's rows).
CALL_BATCHES = 4


class RewardModelError(JudgeError):
    """The reward model cannot be used: not found, not a one-label classifier, no chat template."""


class RewardModelJudge:
    """Scores answers with a sequence-classification reward model (see the module docstring).

    ``model`` is a Hub id or a local folder (``from_pretrained``). Options: ``batch_size``
    (pairs per forward pass), ``device`` ("cpu", "cuda", "cuda:1"; default: the GPU when there is
    one), ``dtype`` ("float32", "bfloat16", ...; default: the model's), ``max_length`` (longer
    pairs get no score and an error; default: the model's context), ``chat_template`` (for a
    model that ships none: a Jinja template, a file holding one, or a model id or folder whose
    tokenizer has one), ``revision`` and ``trust_remote_code`` (passed to ``from_pretrained``),
    ``label`` (the name recorded as each row's ``judge``; default: ``model`` as given).
    """

    def __init__(
        self,
        model: str | Path,
        *,
        batch_size: int | str = DEFAULT_BATCH_SIZE,
        device: str | None = None,
        dtype: str | None = None,
        max_length: int | str | None = None,
        chat_template: str | None = None,
        revision: str | None = None,
        trust_remote_code: bool | str = False,
        label: str | None = None,
    ) -> None:
        source = str(model).rstrip("/") or str(model)
        self._name = label or source
        self._batch_size = _positive(batch_size, "batch_size")
        limit = None if max_length is None else _positive(max_length, "max_length")
        remote = _flag(trust_remote_code, "trust_remote_code")
        self._model, self._tokenizer, self._device = _load(
            source,
            chat_template,
            device=device,
            dtype=dtype,
            revision=revision,
            trust_remote_code=remote,
        )
        self._pad_id = _pad_id(self._model, self._tokenizer)
        self._max_length = limit or _context(self._model, self._tokenizer)
        self._lock = threading.Lock()  # one forward pass at a time, whichever task asks

    @property
    def name(self) -> str:
        return self._name

    @property
    def scale(self) -> ScoreScale:
        return ScoreScale(
            low=None,
            high=None,
            meaning=f"reward (the logit of the single label) of the reward model {self._name}; "
            "unbounded, comparable only between answers scored by the same model",
        )

    @property
    def compares(self) -> bool:
        """False: a reward depends on the conversation and the answer alone."""
        return False

    @property
    def prompts_per_call(self) -> int:
        # CALL_BATCHES batches' worth of answers per call (one answer per group, as the runner
        # hands a judge that does not compare): every pass is full but the run's last, and pairs
        # are sorted by length across the whole call, so batches pad little.
        return CALL_BATCHES * self._batch_size

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def model(self) -> PreTrainedModel:
        """The loaded sequence classifier (for measurements: forward hooks, timing)."""
        return self._model

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self._tokenizer

    def __repr__(self) -> str:
        return (
            f"RewardModelJudge({self._name!r}, batch_size={self._batch_size}, "
            f"device={str(self._device)!r})"
        )

    def encode(self, row: CandidateRow) -> list[int]:
        """The token ids of one (conversation, answer) pair, in the model's chat template."""
        messages = [
            {"role": turn["role"], "content": turn["content"]} for turn in row["messages"]
        ] + [{"role": "assistant", "content": row["response"]}]
        encoded: Any = self._tokenizer.apply_chat_template(
            messages, tokenize=True, return_dict=True
        )
        return [int(token) for token in encoded["input_ids"]]

    async def ajudge(self, prompts: Sequence[Sequence[CandidateRow]]) -> list[list[Verdict]]:
        verdicts: list[list[Verdict]] = [[Verdict(None)] * len(rows) for rows in prompts]
        pending = await asyncio.to_thread(self._encode_all, prompts, verdicts)
        for start in range(0, len(pending), self._batch_size):
            batch = pending[start : start + self._batch_size]
            rewards = await asyncio.to_thread(self.rewards, [ids for _, _, ids in batch])
            for (i, j, _), reward in zip(batch, rewards, strict=True):
                if math.isfinite(reward):
                    verdicts[i][j] = Verdict(reward)
                else:
                    verdicts[i][j] = Verdict(
                        None, error=f"reward model {self._name}: reward is {reward}"
                    )
        return verdicts

    def _encode_all(
        self, prompts: Sequence[Sequence[CandidateRow]], verdicts: list[list[Verdict]]
    ) -> list[tuple[int, int, list[int]]]:
        """Every pair's token ids, longest first (less padding per batch); a pair over
        ``max_length`` gets its error verdict here instead."""
        pending: list[tuple[int, int, list[int]]] = []
        for i, rows in enumerate(prompts):
            for j, row in enumerate(rows):
                ids = self.encode(row)
                if len(ids) > self._max_length:
                    verdicts[i][j] = Verdict(
                        None,
                        error=f"reward model {self._name}: {len(ids)} tokens, over its limit "
                        f"of {self._max_length} (max_length)",
                    )
                else:
                    pending.append((i, j, ids))
        pending.sort(key=lambda item: len(item[2]), reverse=True)
        return pending

    def rewards(self, batch: Sequence[Sequence[int]]) -> list[float]:
        """One padded forward pass over ``batch`` (token ids): the reward of each sequence."""
        import torch

        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        for k, ids in enumerate(batch):
            input_ids[k, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention_mask[k, : len(ids)] = 1
        with self._lock, torch.inference_mode():
            output = self._model(
                input_ids=input_ids.to(self._device),
                attention_mask=attention_mask.to(self._device),
            )
        logits = output.logits
        return [float(x) for x in logits[:, 0].float().cpu().tolist()]


def _load(
    source: str,
    chat_template: str | None,
    *,
    device: str | None,
    dtype: str | None,
    revision: str | None,
    trust_remote_code: bool,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, Any]:
    """The tokenizer (with its chat template) and the model, checked before the weights load."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    where = f"reward model {source}"
    options: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
    try:
        config = AutoConfig.from_pretrained(source, **options)
    except (OSError, ValueError) as exc:
        raise RewardModelError(f"{where}: cannot load it: {_first_line(exc)}") from None
    architectures = list(getattr(config, "architectures", None) or [])
    if architectures and not any(a.endswith("ForSequenceClassification") for a in architectures):
        raise RewardModelError(
            f"{where} is a {', '.join(architectures)}, not a sequence classifier: a reward model "
            "is an AutoModelForSequenceClassification with one label (num_labels=1)"
        )
    if config.num_labels != 1:
        raise RewardModelError(
            f"{where} has num_labels={config.num_labels}: a reward model gives one score per "
            "answer (num_labels=1); this is a classifier into several classes"
        )
    try:
        target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    except RuntimeError:
        raise RewardModelError(f"{where}: unknown device {device!r} (cpu, cuda, cuda:1)") from None
    torch_dtype: Any = None if dtype is None else getattr(torch, dtype, None)
    if dtype == "auto":
        torch_dtype = "auto"
    elif dtype is not None and not isinstance(torch_dtype, torch.dtype):
        raise RewardModelError(f"{where}: unknown dtype {dtype!r} (float32, bfloat16, auto)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **options)
    except (OSError, ValueError) as exc:
        raise RewardModelError(f"{where}: cannot load its tokenizer: {_first_line(exc)}") from None
    tokenizer.chat_template = _template(source, tokenizer, chat_template)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            source, config=config, dtype=torch_dtype, **options
        )
    except (OSError, ValueError) as exc:
        raise RewardModelError(f"{where}: cannot load it: {_first_line(exc)}") from None
    try:
        model.to(target)
    except (RuntimeError, AssertionError) as exc:  # e.g. cuda on a machine without a GPU
        raise RewardModelError(f"{where}: cannot run on {target}: {_first_line(exc)}") from None
    model.eval()
    return model, tokenizer, target


def _template(source: str, tokenizer: PreTrainedTokenizerBase, given: str | None) -> str:
    """The chat template to format pairs with: the model's own, else the one given."""
    if given is None:
        if tokenizer.chat_template:
            return str(tokenizer.chat_template)
        raise RewardModelError(
            f"reward model {source} has no chat template, so its conversations cannot be "
            "formatted as it was trained on: pass chat_template (a Jinja template, a file "
            "holding one, or a model id or folder whose tokenizer has one; "
            "`zephyr judge -O chat_template=...`) or use a reward model that ships one"
        )
    if "{{" in given or "{%" in given:
        return given
    path = Path(given)
    if path.is_file():
        return path.read_text(encoding="utf-8")
    from transformers import AutoTokenizer

    try:
        other = AutoTokenizer.from_pretrained(given)
    except (OSError, ValueError) as exc:
        raise RewardModelError(
            f"reward model {source}: chat_template {given!r} is not a template, a file or a "
            f"loadable tokenizer: {_first_line(exc)}"
        ) from None
    if not other.chat_template:
        raise RewardModelError(
            f"reward model {source}: the tokenizer of {given} has no chat template either"
        )
    return str(other.chat_template)


def _pad_id(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    """The id batches are padded with: the one the model's pooling skips (its config's
    ``pad_token_id``), set from the tokenizer's pad (else EOS) token when the config has none."""
    config = model.config
    if config.pad_token_id is None:
        fallback = tokenizer.pad_token_id
        if fallback is None:
            fallback = tokenizer.eos_token_id
        if fallback is None:
            raise RewardModelError(
                f"reward model {config.name_or_path}: neither the model nor the tokenizer names "
                "a pad or end-of-sequence token, so answers cannot be batched"
            )
        config.pad_token_id = int(fallback)
    return int(config.pad_token_id)


def _context(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    limits = [getattr(model.config, "max_position_embeddings", None), tokenizer.model_max_length]
    known = [int(n) for n in limits if isinstance(n, int) and 0 < n < 10**7]
    return min(known) if known else 10**7


def _positive(value: int | str, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RewardModelError(f"{name} must be a whole number, got {value!r}") from None
    if number < 1:
        raise RewardModelError(f"{name} must be 1 or more, got {number}")
    return number


def _flag(value: bool | str, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise RewardModelError(f"{name} must be true or false, got {value!r}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def reward_model_judge(model: Any, **options: Any) -> RewardModelJudge:
    """The ``reward-model`` judge factory: ``model`` is a Hub id or a local folder."""
    if not isinstance(model, str | Path):
        raise RewardModelError(
            f"the reward-model judge takes a Hub id or a folder, got a {type(model).__name__}"
        )
    return RewardModelJudge(model, **options)
