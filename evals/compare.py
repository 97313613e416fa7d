"""`paperchat eval compare A B`: metric deltas and the questions whose outcome changed.

QA outcome: `passed` per question. Retrieval outcome: a relevant paper in the default
top 10 (hit@10) per query.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag.errors import InputError, ParseError


def load_report(path: Path) -> dict[str, Any]:
    """A report.json (or a report folder holding one)."""
    if path.is_dir():
        path = path / "report.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from e
    except json.JSONDecodeError as e:
        raise ParseError(f"invalid JSON: {e.msg}", path=str(path), line=e.lineno) from e
    if not isinstance(data, dict) or data.get("kind") not in ("qa", "retrieval"):
        raise InputError(f"{path}: not an eval report (no \"kind\": \"qa\" or \"retrieval\")")
    return data


def _metrics(report: dict[str, Any]) -> dict[str, float | None]:
    if report["kind"] == "qa":
        return dict(report.get("metrics", {}))
    return {f"{mode}/{name}": value for mode, scores in report.get("results", {}).items()
            for name, value in scores.items()}


def _outcomes(report: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    if report["kind"] == "qa":
        return {q["id"]: (bool(q["passed"]), q["question"])
                for q in report.get("per_question", [])}
    return {qid: (bool(modes.get("default", {}).get("hit@10")), "")
            for qid, modes in report.get("per_query", {}).items()}


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Deltas (b - a) for metrics present in either, and outcome changes a -> b."""
    if a["kind"] != b["kind"]:
        raise InputError(f"cannot compare a {a['kind']} report with a {b['kind']} report")
    ma, mb = _metrics(a), _metrics(b)
    deltas = {}
    for name in dict.fromkeys([*ma, *mb]):
        va, vb = ma.get(name), mb.get(name)
        delta = vb - va if va is not None and vb is not None else None
        deltas[name] = {"a": va, "b": vb, "delta": delta}
    oa, ob = _outcomes(a), _outcomes(b)
    changed = [{"id": qid, "question": ob[qid][1] or oa[qid][1],
                "a": "pass" if oa[qid][0] else "fail", "b": "pass" if ob[qid][0] else "fail"}
               for qid in oa if qid in ob and oa[qid][0] != ob[qid][0]]
    return {"kind": a["kind"], "deltas": deltas, "changed": changed,
            "fixed": sum(c["b"] == "pass" for c in changed),
            "broken": sum(c["b"] == "fail" for c in changed),
            "only_a": sorted(set(oa) - set(ob)), "only_b": sorted(set(ob) - set(oa))}


def render(diff: dict[str, Any]) -> str:
    """Plain-text table of deltas and the list of changed questions."""
    def f(v: float | None) -> str:
        return "–" if v is None else f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"

    width = max((len(n) for n in diff["deltas"]), default=6)
    lines = [f"{'metric':<{width}}  {'A':>8}  {'B':>8}  {'B-A':>8}"]
    for name, d in diff["deltas"].items():
        delta = "–" if d["delta"] is None else f"{d['delta']:+.3f}"
        lines.append(f"{name:<{width}}  {f(d['a']):>8}  {f(d['b']):>8}  {delta:>8}")
    lines.append("")
    lines.append(f"{len(diff['changed'])} changed outcome ({diff['fixed']} now pass, "
                 f"{diff['broken']} now fail)")
    for c in diff["changed"]:
        lines.append(f"  {c['id']}: {c['a']} -> {c['b']}  {c['question']}".rstrip())
    for side in ("only_a", "only_b"):
        if diff[side]:
            lines.append(f"only in {side[-1].upper()}: {', '.join(diff[side])}")
    return "\n".join(lines)
