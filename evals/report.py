"""Every run's report: report.json, report.md and a self-contained report.html.

The content is built once as a list of blocks and rendered twice: Markdown (figures saved
beside it as PNG files) and HTML (figures embedded as base64 PNGs).
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from evals import plots

SHOWN = 5  # retrieved papers shown per failing question


@dataclass
class Block:
    kind: str  # h1 | h2 | p | table | list | figure
    text: str = ""
    rows: list[list[str]] | None = None  # table: first row is the header
    items: list[str] | None = None
    png: bytes = b""
    name: str = ""


def default_out_dir(kind: str, base: Path | None = None) -> Path:
    """./reports/<kind>-<timestamp>/ (a suffix keeps two runs in one second apart)."""
    root = (base or Path.cwd()) / "reports"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = root / f"{kind}-{stamp}"
    n = 2
    while out.exists():
        out = root / f"{kind}-{stamp}-{n}"
        n += 1
    return out


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) > 1 else f"{value:.3f}"  # ms vs. rates
    return str(value)


def _paper(pid: str, titles: dict[str, str]) -> str:
    title = titles.get(pid)
    return f"{title} ({pid})" if title else pid


def retrieval_blocks(r: dict[str, Any]) -> list[Block]:
    names = list(next(iter(r["results"].values())))
    d = r["default_is"]
    blocks = [
        Block("h1", f"Retrieval eval: {r['dataset']}"),
        Block("p", f"{r['queries']} queries over {r['corpus']} papers, top {r['k']} per "
                   f"query, embedder {r['embedder']}. `default` is the pipeline that search "
                   f"and ask use: fusion={d['fusion']}, dense_weight={d['dense_weight']}, "
                   f"candidates={d['candidates']}. Index {r['index']['collection']}: "
                   f"{r['index']['embedded']} papers embedded this run, "
                   f"{r['index']['unchanged']} reused."),
        Block("table", rows=[["mode", *names, "p50 ms", "p95 ms"]] + [
            [mode, *(fmt(v) for v in scores.values()), fmt(r["latency_ms"][mode]["p50"]),
             fmt(r["latency_ms"][mode]["p95"])] for mode, scores in r["results"].items()]),
        Block("figure", "Recall@k per mode", png=plots.recall_curves(r["recall_curve"]),
              name="recall_at_k"),
        Block("figure", "Search latency", name="latency",
              png=plots.latency_histogram(r["latencies_ms"], "Search latency per query")),
        Block("h2", f"Failing queries ({len(r['failing'])}): no relevant paper in the "
                    "default top 10"),
    ]
    titles = {}
    for row in r["failing"]:
        for p in row["gold"] + row["retrieved"]:
            titles[p["paper_id"]] = p["title"]
        blocks.append(Block("list", f"{row['id']}: {row['question']}", items=[
            "gold: " + "; ".join(_paper(p["paper_id"], titles) for p in row["gold"]),
            "retrieved: " + "; ".join(f"{i}. {_paper(p['paper_id'], titles)}"
                                      for i, p in enumerate(row["retrieved"], 1))]))
    for w in r.get("warnings", []):
        blocks.append(Block("p", f"Warning: {w}"))
    return blocks


def qa_blocks(r: dict[str, Any]) -> list[Block]:
    m = r["metrics"]
    kinds = list(r["by_kind"])
    counts = ", ".join(f"{n} {k}" for k, n in r["counts"].items())
    blocks = [
        Block("h1", f"QA eval: {r['suite']}"),
        Block("p", f"{r['questions']} questions ({counts}) against collection "
                   f"'{r['collection']}' ({r['papers']} papers); engine {r['engine']}, "
                   f"embedder {r['embedder']}{', LLM judge' if r['judge'] else ''}. "
                   f"{sum(q['passed'] for q in r['per_question'])} passed."),
        Block("table", rows=[["metric", "all", *kinds]] + [
            [name, fmt(m[name]), *(fmt(r["by_kind"][k].get(name)) for k in kinds)]
            for name in m]),
        Block("figure", "Recall@k (default retrieval, answerable questions)",
              png=plots.recall_curves(r["recall_curve"], "Recall@k, answerable questions"),
              name="recall_at_k"),
        Block("figure", "Answer latency", name="latency",
              png=plots.latency_histogram({"ask": r["latencies_ms"]},
                                          "Answer latency per question")),
        Block("figure", "Metrics by kind", name="by_kind", png=plots.kind_bars(
            r["by_kind"], ["recall@5", "citation_precision", "supported_precision",
                           "citation_recall", "fact_recall", "refusal_accuracy",
                           "false_refusal_rate"])),
    ]
    failing = [q for q in r["per_question"] if not q["passed"]]
    blocks.append(Block("h2", f"Failing questions ({len(failing)})"))
    titles = r.get("titles", {})
    for q in failing:
        answer = " ".join(q["answer"].split())
        blocks.append(Block("list", f"{q['id']} ({q['kind']}): {q['question']}", items=[
            "why: " + "; ".join(q["why"]),
            "gold: " + ("; ".join(_paper(p, titles) for p in q["gold"]) or "none"),
            "retrieved: " + "; ".join(f"{i}. {_paper(p, titles)}"
                                      for i, p in enumerate(q["retrieved"][:SHOWN], 1)),
            "cited: " + ("; ".join(_paper(p, titles) for p in q["cited"]) or "nothing"),
            "answer: " + (answer if len(answer) <= 400 else answer[:400] + "…")]))
    return blocks


def to_markdown(blocks: list[Block], figures: dict[str, str]) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind == "h1":
            out.append(f"# {b.text}\n")
        elif b.kind == "h2":
            out.append(f"## {b.text}\n")
        elif b.kind == "p":
            out.append(b.text + "\n")
        elif b.kind == "table" and b.rows:
            cells = [[c.replace("|", "\\|") for c in row] for row in b.rows]
            out.append("| " + " | ".join(cells[0]) + " |")
            out.append("|" + "|".join("---" for _ in cells[0]) + "|")
            out.extend("| " + " | ".join(row) + " |" for row in cells[1:])
            out.append("")
        elif b.kind == "list":
            out.append(f"- **{b.text}**")
            out.extend(f"  - {item}" for item in b.items or [])
        elif b.kind == "figure":
            out.append(f"\n![{b.text}]({figures[b.name]})\n")
    return "\n".join(out).rstrip() + "\n"


_CSS = ("body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;color:#222}table{border-collapse:collapse;margin:1rem 0}"
        "td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}"
        "td:first-child,th:first-child{text-align:left}figure{margin:1rem 0}"
        "img{max-width:100%}li li{color:#444}")


def to_html(blocks: list[Block], title: str) -> str:
    e = html.escape
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
           f"<style>{_CSS}</style></head><body>"]
    for b in blocks:
        if b.kind in ("h1", "h2"):
            out.append(f"<{b.kind}>{e(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{e(b.text)}</p>")
        elif b.kind == "table" and b.rows:
            head = "".join(f"<th>{e(c)}</th>" for c in b.rows[0])
            body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                           for row in b.rows[1:])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif b.kind == "list":
            items = "".join(f"<li>{e(i)}</li>" for i in b.items or [])
            out.append(f"<ul><li><b>{e(b.text)}</b><ul>{items}</ul></li></ul>")
        elif b.kind == "figure":
            data = base64.b64encode(b.png).decode("ascii")
            out.append(f"<figure><img alt='{e(b.text)}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{e(b.text)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)


def write_reports(result: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write report.json, report.md (+ its PNGs) and report.html; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    blocks = qa_blocks(result) if result["kind"] == "qa" else retrieval_blocks(result)
    blocks = [b if b.kind != "figure" or b.png else Block(
        "p", f"({b.text}: no figure without matplotlib; pip install -e '.[evals]')")
        for b in blocks]
    figures = {}
    for b in blocks:
        if b.kind == "figure":
            figures[b.name] = f"{b.name}.png"
            (out_dir / figures[b.name]).write_bytes(b.png)
    paths = {"json": out_dir / "report.json", "markdown": out_dir / "report.md",
             "html": out_dir / "report.html"}
    paths["json"].write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n",
                             encoding="utf-8")
    paths["markdown"].write_text(to_markdown(blocks, figures), encoding="utf-8")
    paths["html"].write_text(to_html(blocks, blocks[0].text), encoding="utf-8")
    return paths
