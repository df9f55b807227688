"""Inter-annotator agreement: Krippendorff's alpha (the `krippendorff` package).

Input is a set of units (one rated thing: a response's rating, a response's rank within one
record, one pairwise choice) each with the values annotators gave. Alpha needs at least one unit
coded by two annotators and more than one distinct value; otherwise it is undefined (None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

Level = Literal["nominal", "ordinal", "interval", "ratio"]


def krippendorff_alpha(
    units: Mapping[object, Mapping[str, float]], level: Level = "ordinal"
) -> float | None:
    """Alpha over `units`: unit -> {annotator: numeric value}. None when undefined."""
    import krippendorff
    import numpy as np

    annotators = sorted({a for values in units.values() for a in values})
    pairable = [u for u, values in units.items() if len(values) >= 2]
    if len(annotators) < 2 or not pairable:
        return None
    distinct = {v for u in pairable for v in units[u].values()}
    if len(distinct) < 2:
        # Everyone gave the same single value everywhere: perfect agreement is not measurable
        # by alpha (no variation); report None rather than invent a figure.
        return None
    data = np.full((len(annotators), len(pairable)), np.nan)
    index = {a: i for i, a in enumerate(annotators)}
    for column, unit in enumerate(pairable):
        for annotator, value in units[unit].items():
            data[index[annotator], column] = value
    alpha = float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
    return alpha if math.isfinite(alpha) else None
