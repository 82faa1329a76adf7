"""The results chart, without I/O: one diverging stacked bar per agreement
statement (disagreement to the left of zero, agreement to the right, the
neutral middle centred on it), as SVG a person can put in a report.

matplotlib draws it with the Agg backend and no pyplot (no global figure state,
so gunicorn's threads may draw at once); text stays text in the SVG
(``svg.fonttype: none``) and each bar segment has the id
``bar-<question id>-<scale point>``.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from services.surveys.domain import SCALE, SCALE_LABELS

# Colour-blind safe diverging palette (ColorBrewer RdBu), disagree to agree.
COLOURS = ("#b2182b", "#ef8a62", "#d9d9d9", "#67a9cf", "#2166ac")
TITLES = {
    "en": "Share of respondents per answer",
    "fr": "Part des répondants par réponse",
    "de": "Anteil der Antwortenden je Antwort",
}
AGREE = {"en": "agree", "fr": "d'accord", "de": "Zustimmung"}
COUNTS = {
    "en": "{responses} responses of {invited} invited",
    "fr": "{responses} réponses sur {invited} invités",
    "de": "{responses} Antworten von {invited} Eingeladenen",
}


def counts_line(responses: int, invited: int, language: str) -> str:
    """``6 responses of 7 invited`` in ``language``."""
    return COUNTS.get(language, COUNTS["en"]).format(responses=responses, invited=invited)


def _segments(distribution: Mapping[str, int]) -> list[tuple[int, float, float]]:
    """(scale point, left edge, width) of each segment, as shares of the answers."""
    total = sum(distribution.get(str(n), 0) for n in SCALE)
    if not total:
        return []
    shares = [distribution.get(str(n), 0) / total for n in SCALE]
    left = -(shares[0] + shares[1] + shares[2] / 2)
    out = []
    for point, width in zip(SCALE, shares, strict=True):
        out.append((point, left, width))
        left += width
    return out


def agreement_svg(
    statements: Sequence[Mapping[str, Any]], *, title: str, subtitle: str, language: str = "en"
) -> bytes:
    """The SVG chart of ``statements`` (result questions of type ``agreement``:
    ``id``, ``text``, ``distribution``, ``agree_share``)."""
    labels = SCALE_LABELS["agreement"].get(language, SCALE_LABELS["agreement"]["en"])
    rows = max(len(statements), 1)
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "mlp-surveys", "font.size": 9}):
        figure = Figure(figsize=(9, 1.2 + 0.75 * rows))
        axes = figure.add_subplot()
        for row, statement in enumerate(statements):
            y = rows - 1 - row
            segments = _segments(statement.get("distribution") or {})
            if not segments:  # no answers: an empty outline keeps one bar per statement
                bar = axes.barh(y, 1.0, left=-0.5, height=0.6, fill=False, edgecolor="#999999")
                bar.patches[0].set_gid(f"bar-{statement['id']}-none")
            for point, left, width in segments:
                if width <= 0:
                    continue
                bar = axes.barh(
                    y, width, left=left, height=0.6, color=COLOURS[point - 1], edgecolor="white"
                )
                bar.patches[0].set_gid(f"bar-{statement['id']}-{point}")
            agree = statement.get("agree_share")
            if agree is not None:
                axes.text(
                    1.02,
                    y,
                    f"{round(agree * 100)}% {AGREE.get(language, AGREE['en'])}",
                    va="center",
                    fontsize=9,
                )
        axes.set_yticks(
            range(rows),
            [textwrap.fill(s["text"], 42) for s in reversed(statements)] or [""],
        )
        axes.set_xlim(-1, 1.25)
        axes.set_xticks([-1, -0.5, 0, 0.5, 1], ["100%", "50%", "0", "50%", "100%"])
        axes.axvline(0, color="#333333", linewidth=0.8)
        for side in ("top", "right", "left"):
            axes.spines[side].set_visible(False)
        handles = [
            Patch(color=colour, label=label) for colour, label in zip(COLOURS, labels, strict=True)
        ]
        axes.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.45, -0.12),
            ncol=5,
            frameon=False,
            fontsize=8,
        )
        figure.suptitle(title, fontsize=11, x=0.02, ha="left")
        axes.set_title(f"{TITLES.get(language, TITLES['en'])} · {subtitle}", fontsize=9, loc="left")
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
