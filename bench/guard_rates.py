"""How often the grounding guard withdraws LLM answers, grounded or not (real MiniLM).

Run:  python bench/guard_rates.py [--limit 112] [--home DIR]

No real model is at hand, so the fake OpenAI server on loopback writes three kinds of
LLM-style answers from the numbered sources of each prompt (bundled collection, the QA
suite's answerable questions):
- grounded: an uncited lead-in ("Here is what the papers report."), then the first two
  sentences of sources [1] and [2] reworded the way models do ("We" -> "The authors",
  "Our" -> "Their", first clause dropped after a comma in long sentences), each cited;
- grounded, cited once per paper: the same, the marker only on each paper's last sentence
  (a common model habit);
- uncited: the same text with no markers;
- off-topic: fluent, cited sentences about something else.
A withdrawal of a grounded answer is a false one; of the other two, a true one. Prints a
Markdown table and writes bench/results/guard_rates.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OFF_TOPIC = ("The method bakes bread at a lower temperature than usual [1]. Walnuts and "
             "bananas improve the crumb [2]. Results hold across ovens of every size [1].")


def _sources(body: dict[str, Any]) -> list[str]:
    prompt = body["messages"][-1]["content"]
    return re.findall(r"^\[\d+\] Title: .*\n(.+)$", prompt, re.MULTILINE)


def _reword(sentence: str) -> str:
    s = re.sub(r"\bWe\b", "The authors", sentence)
    s = re.sub(r"\b[Oo]ur\b", "their", s)
    _, sep, tail = s.partition(", ")
    if sep and len(tail.split()) >= 8:
        s = tail[0].upper() + tail[1:]
    return s.rstrip(". ")


def grounded(body: dict[str, Any], *, cite: str = "each") -> str:
    """`cite`: "each" sentence, "last" sentence of each paper's paragraph, or "none"."""
    from rag.answer.text import split_sentences

    out = ["Here is what the papers report."]
    for n, text in enumerate(_sources(body)[:2], 1):
        sentences = split_sentences(text)[:2]
        for i, sentence in enumerate(sentences):
            marked = cite == "each" or (cite == "last" and i == len(sentences) - 1)
            out.append(_reword(sentence) + (f" [{n}]." if marked else "."))
    return " ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=112)
    ap.add_argument("--home", type=Path, help="a data dir to reuse (default: a fresh one)")
    args = ap.parse_args()

    from ingest.pipeline import ingest_paths
    from rag.answer.service import Assistant
    from rag.library import Library
    from rag.settings import Settings
    from tests.utils.fake_openai import fake_openai_server

    home = args.home or Path(tempfile.mkdtemp(prefix="paperchat-guard-bench-"))
    library = Library(Settings(home=home))
    ingest_paths(library, [])
    suite = ROOT / "evals" / "suites" / "bundled_qa.jsonl"
    rows = [json.loads(line) for line in suite.read_text().splitlines() if line.strip()]
    questions = [r["question"] for r in rows if r["kind"] != "none"][:args.limit]
    kinds = {"grounded": grounded,
             "grounded, cited once per paper": lambda b: grounded(b, cite="last"),
             "uncited": lambda b: grounded(b, cite="none"),
             "off-topic": lambda b: OFF_TOPIC}
    results: dict[str, Any] = {"questions": len(questions)}
    with fake_openai_server() as fake:
        settings = Settings(home=home, llm={"base_url": fake.base_url},  # type: ignore[arg-type]
                            answer={"guard": True})  # type: ignore[arg-type]
        assistant = Assistant(settings, library)
        for kind, reply in kinds.items():
            withdrawn = answered = 0
            reasons: dict[str, int] = {}
            for q in questions:
                fake.queue(reply)
                answer = assistant.ask(q, engine="llm")
                if answer.refused:
                    continue
                answered += 1
                if answer.degraded:
                    withdrawn += 1
                    reason = (answer.notice or "").split(",")[0]
                    reasons[reason] = reasons.get(reason, 0) + 1
            results[kind] = {"answered": answered, "withdrawn": withdrawn,
                             "rate": round(withdrawn / max(answered, 1), 3),
                             "reasons": reasons}
    print("| answer kind | answered | withdrawn | rate |\n|---|---|---|---|")
    for kind in kinds:
        r = results[kind]
        print(f"| {kind} | {r['answered']} | {r['withdrawn']} | {r['rate']:.3f} |")
    out = ROOT / "bench" / "results" / "guard_rates.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
