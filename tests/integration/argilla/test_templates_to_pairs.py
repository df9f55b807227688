"""Every annotation template gives pairs with default options: push to the real local stack,
answer through the Argilla SDK as an annotator, pull, binarize and export with defaults; the
chosen answer is the one the annotator preferred."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.argilla.candidates import candidates
from zephyr_integrations.preferences.argilla.aggregate import aggregate
from zephyr_integrations.preferences.argilla.client import connect
from zephyr_integrations.preferences.argilla.pull import pull_dataset
from zephyr_integrations.preferences.argilla.push import push_candidates
from zephyr_integrations.preferences.argilla.roles import create_annotator
from zephyr_integrations.preferences.argilla.templates import (
    RANKING,
    PairwiseTemplate,
    RankingTemplate,
    RatingTemplate,
    rating_question,
    response_field,
)
from zephyr_integrations.preferences.binarize import binarize
from zephyr_integrations.preferences.dataset_card import Provenance
from zephyr_integrations.preferences.export import export
from zephyr_integrations.preferences.splits import make_splits

#: The annotator always prefers this model's answer, and likes model-0's least.
FAVOURITE, LEAST = "model-1", "model-0"

TEMPLATES = {
    "pairwise": PairwiseTemplate(),
    "ranking": RankingTemplate(responses=3),
    "rating": RatingTemplate(responses=3),
    "ultrafeedback": RatingTemplate.ultrafeedback(responses=3),
}


def answers(template: Any, models: dict[int, str]) -> dict[str, Any]:
    """What the annotator submits for one record whose slot i shows ``models[i]``'s answer."""
    slots = sorted(models)
    best = next(slot for slot in slots if models[slot] == FAVOURITE)
    if isinstance(template, PairwiseTemplate):
        return {"preference": response_field(best)}
    if isinstance(template, RankingTemplate):
        order = [best] + [s for s in slots if s != best and models[s] != LEAST]
        order += [s for s in slots if models[s] == LEAST]
        # ranks written out: the SDK sends a bare list of values without ranks (argilla#5712)
        return {RANKING: [{"value": response_field(s), "rank": r} for r, s in enumerate(order, 1)]}
    values: dict[str, Any] = {}
    for slot in slots:
        rating = 5 if slot == best else (1 if models[slot] == LEAST else 3)
        for aspect in template.aspects:
            values[rating_question(aspect, slot)] = rating
    return values


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_each_template_gives_pairs_choosing_what_the_annotator_preferred(
    owner: Any, name: str, tmp_path: Path
) -> None:
    import argilla as rg
    from datasets import load_dataset

    template = TEMPLATES[name]
    workspace, dataset_name = f"ws-tpl-{name}", f"tpl-{name}"
    annotator = create_annotator(owner, f"tpl-{name}-ann", workspace)  # also makes the workspace
    rows = candidates(4, template.n_responses, tag=f"{name} ")
    push_candidates(owner, rows, dataset=dataset_name, template=template, workspace=workspace)

    as_annotator = connect(owner.api_url, annotator.api_key)
    me = as_annotator.me.id
    # The owner reads which model is in which slot (metadata hidden from annotators); the
    # annotator submits its own responses, as the web UI does.
    for record in owner.datasets(dataset_name, workspace=workspace).records:
        models = {slot: record.metadata[f"model_{slot}"] for slot in range(1, 4)
                  if f"model_{slot}" in record.metadata}  # fmt: skip
        for question, value in answers(template, models).items():
            record.responses.add(rg.Response(question, value, user_id=me, status="submitted"))
        as_annotator.api.records.create_record_responses(record.api_model())

    report = aggregate(pull_dataset(owner, dataset_name, workspace=workspace))
    assert len(report.rows) == 4
    result = binarize(report.rows)  # default options
    assert result.dropped == {} and result.pairs.num_rows == 4
    splits = make_splits(result.pairs, test_size=0.25)
    folder = export(
        splits, tmp_path / "export", about=Provenance.from_result(result, test_size=0.25)
    )

    by_answer = {row["response"]: row["model"] for row in rows}
    exported = load_dataset(str(folder))
    chosen_models = [
        by_answer[pair["chosen"][-1]["content"]] for split in exported.values() for pair in split
    ]
    assert chosen_models == [FAVOURITE] * 4
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert report.rows[0]["scale"]["meaning"] in card
