"""CandidateRows for the Argilla tests: `n` answers per prompt from distinct models."""

from __future__ import annotations

from zephyr_integrations.preferences.records import AspectRating, CandidateRow, prompt_id


def candidates(prompts: int, n: int, *, judged: bool = False, tag: str = "") -> list[CandidateRow]:
    rows: list[CandidateRow] = []
    for p in range(prompts):
        prompt = f"{tag}question {p}: what is {p} + {p}?"
        messages = [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": prompt},
        ]
        for m in range(n):
            row = CandidateRow(
                prompt_id=prompt_id(prompt),
                prompt=prompt,
                messages=messages,  # type: ignore[typeddict-item]
                model=f"model-{m}",
                sample=0,
                response=f"answer {p} by model {m}: {2 * p + m}",
                params={"temperature": 0.7},
                usage=None,
                finish_reason="stop",
            )
            if judged:
                row["ratings"] = {
                    "helpfulness": AspectRating(rating=1 + (m % 5), rationale="r"),
                    "honesty": AspectRating(rating=5, rationale="r"),
                }
                row["judge"] = "judge-tiny"
            rows.append(row)
    return rows
