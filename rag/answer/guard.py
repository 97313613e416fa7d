"""The grounding guard: an LLM answer the papers do not back is not returned as an answer.

Checked once the answer is complete, on the per-sentence support the pipeline computed:
- claims are the sentences that cite a paper, plus uncited ones that no paper the answer
  cites backs (a marker at the end of a paragraph covers the sentences before it) and
  that are not statements about the sources themselves ("the papers do not say ...", a
  lead-in ending in ":");
- an answer with claims but no valid citation fails (the model ignored the sources, or
  cited numbers that do not exist);
- an answer whose unsupported claims exceed `max_unsupported` of all claims fails;
- an empty answer fails (the model spent its tokens thinking, or said nothing);
- an answer made only of statements about the sources passes: the model said the papers
  do not answer, which is what the prompt asks for.
The pipeline then answers extractively instead, with `degraded: true` and a notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """Whether an answer may be returned, and if not, why (completes "The model's answer ...")."""

    ok: bool
    reason: str = ""


def check(sentences: list[dict[str, Any]], cited: int, *, max_unsupported: float) -> Verdict:
    """Judge an LLM answer from its scored sentences and the number of papers it cites."""
    if not sentences:
        return Verdict(False, "was empty")
    claims = [s for s in sentences if s["citations"] or not s["supported"]]
    if not claims:
        return Verdict(True)
    if not cited:
        return Verdict(False, "cited none of the retrieved papers")
    unsupported = sum(not s["supported"] for s in claims)
    if unsupported > max_unsupported * len(claims):
        return Verdict(False, f"was not supported by the papers it cited ({unsupported} of "
                              f"{len(claims)} sentences)")
    return Verdict(True)
