"""Regenerate the BEIR-format copy of the bundled QA suite.

Reads ``evals/suites/bundled_qa.jsonl`` and the bundled collection
``ingest/data/trending-pretraining-papers.txt`` and writes::

    evals/suites/beir/corpus.jsonl     {"_id", "title", "text"} for every paper
    evals/suites/beir/queries.jsonl    {"_id", "text"} for every single/multi question
    evals/suites/beir/qrels/test.tsv   query-id <tab> corpus-id <tab> score (1 per gold paper)

``none`` questions have no relevant paper, so they are left out of the BEIR copy.

Run from the repository root: ``python evals/suites/build_beir.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

COLLECTION = ROOT / "ingest" / "data" / "trending-pretraining-papers.txt"
SUITE = ROOT / "evals" / "suites" / "bundled_qa.jsonl"
OUT = ROOT / "evals" / "suites" / "beir"

def read_collection(path: Path) -> list[dict[str, str]]:
    """The collection as BEIR corpus rows, parsed by the product's own parser."""
    from ingest.parsers import parse_file

    return [{"_id": p.id, "title": p.title, "text": p.abstract}
            for p in parse_file(path).papers]


def build(collection: Path = COLLECTION, suite: Path = SUITE, out: Path = OUT) -> dict[str, int]:
    corpus = read_collection(collection)
    known = {p["_id"] for p in corpus}
    if len(known) != len(corpus):
        raise SystemExit("duplicate paper ids in the collection")
    questions = [
        json.loads(ln) for ln in suite.read_text(encoding="utf-8").splitlines() if ln.strip()
    ]

    queries, qrels = [], []
    for q in questions:
        if q["kind"] == "none" or not q["gold"]:
            continue
        for pid in q["gold"]:
            if pid not in known:
                raise SystemExit(f"{q['id']}: gold id {pid!r} is not in the collection")
            qrels.append((q["id"], pid))
        queries.append({"_id": q["id"], "text": q["question"]})

    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for p in corpus:
            fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for row in queries:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (out / "qrels" / "test.tsv").open("w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qid, pid in qrels:
            fh.write(f"{qid}\t{pid}\t1\n")
    return {"corpus": len(corpus), "queries": len(queries), "qrels": len(qrels)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collection", type=Path, default=COLLECTION)
    ap.add_argument("--suite", type=Path, default=SUITE)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    counts = build(args.collection, args.suite, args.out)
    print(f"wrote {args.out}: {counts}")


if __name__ == "__main__":
    main()
