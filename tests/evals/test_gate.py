"""evals/gate.sh: every threshold names a real metric and sits on the safe side of the
value measured beside it (so a noise-free run of the measured pipeline passes)."""

from __future__ import annotations

import re
from pathlib import Path

from evals.qa import QA_METRICS
from evals.thresholds import parse_thresholds

GATE = Path(__file__).resolve().parents[2] / "evals" / "gate.sh"


def test_gate_thresholds_are_known_and_below_measured_values() -> None:
    text = GATE.read_text()
    mins = re.findall(r"--min (\S+)", text)
    maxes = re.findall(r"--max (\S+)", text)
    thresholds = parse_thresholds(mins, maxes, QA_METRICS)
    measured_block = text.split("# Measured", 1)[1].split("exec", 1)[0]
    measured = {k: float(v) for k, v in re.findall(r"([a-z_@0-9]+) (\d\.\d+)", measured_block)}
    assert {t.metric for t in thresholds} <= set(measured)
    assert len(thresholds) >= 6 and {"fact_recall", "recall@5", "refusal_accuracy"} <= {
        t.metric for t in thresholds}
    for t in thresholds:
        if t.op == "min":
            assert t.value < measured[t.metric], t
        else:
            assert t.value > measured[t.metric], t
    assert "--engine extractive" in text and "PAPERCHAT_EMBED_PROVIDER=minilm" in text
