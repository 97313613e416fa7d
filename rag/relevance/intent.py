"""Whether a question asks for a list of papers ("Which papers pretrain graph networks?").

A list question is answered by every paper on its topic, so it is worth citing papers the
calibrated model finds less than even odds relevant: the stage cites them at
`RelevanceSettings.list_cite_bar` instead of the model's `cite_bar`. What counts as one:
- it names papers in the plural: "papers", "works", "studies", "articles", ...;
- "which"/"what" followed within a few words by a plural kind of thing ("models",
  "methods", "approaches", ...), unless it counts them ("which two techniques ..." asks
  for facts of one paper);
- it is an instruction to find or list ("Find work on ...", "List ...", "Show me ...");
- it is a bare topic of at most four words, with no question word and no end punctuation
  ("vision-language pretraining"), as typed into a search box.
Measured on the suites (evals/suites): 20 of 21 multi-paper questions of the bundled suite,
1 of its 91 single-paper ones, 1 of the hold-out's 32 (a "which papers" question one paper
answers), and 1 of SciFact's 807 claims ("C2 works synergistically ...": the verb).
"""

from __future__ import annotations

import re

_PAPERS = r"(?:papers|works|studies|articles|publications|preprints)"
_THINGS = r"(?:models|methods|approaches|techniques|systems|architectures|frameworks)"
_QUESTION_WORD = re.compile(r"^(?:what|which|who|whom|whose|when|where|why|how|does|do|is|"
                            r"are|was|were|can|could|did|has|have|should|will)\b", re.I)
_LIST = re.compile(
    rf"\b{_PAPERS}\b"
    rf"|\b(?:which|what)\s+(?!two\b|three\b|four\b|\d)(?:[\w-]+\s+){{0,3}}?{_THINGS}\b"
    r"|^(?:find|list|show(?:\s+me)?|name|give\s+me|recommend|search\s+for)\b", re.I)
TOPIC_WORDS = 4


def asks_for_papers(question: str) -> bool:
    """True when `question` asks for the papers on a topic rather than for a fact."""
    text = question.strip()
    if _LIST.search(text):
        return True
    return (0 < len(text.split()) <= TOPIC_WORDS and not text.endswith(("?", ".", "!"))
            and not _QUESTION_WORD.match(text))
