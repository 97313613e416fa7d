"""`--min METRIC=VALUE` / `--max METRIC=VALUE`: checked before a run, applied after it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.errors import InputError


@dataclass(frozen=True)
class Threshold:
    metric: str
    value: float
    op: str  # "min": the metric must be >= value; "max": <= value

    def failure(self, metrics: Mapping[str, float | None]) -> str | None:
        """None if met, else e.g. 'fact_recall 0.41 < 0.50'."""
        got = metrics.get(self.metric)
        if got is None:
            return f"{self.metric} has no value on this suite (needs {_sign(self)} " \
                   f"{self.value:.2f})"
        if self.op == "min" and got < self.value:
            return f"{self.metric} {got:.2f} < {self.value:.2f}"
        if self.op == "max" and got > self.value:
            return f"{self.metric} {got:.2f} > {self.value:.2f}"
        return None


def _sign(t: Threshold) -> str:
    return ">=" if t.op == "min" else "<="


def parse_thresholds(mins: Sequence[str], maxes: Sequence[str], known: Sequence[str]
                     ) -> list[Threshold]:
    """Parse and validate; an unknown metric or a malformed value is an InputError."""
    out = []
    for op, items in (("min", mins), ("max", maxes)):
        for item in items:
            name, sep, raw = item.partition("=")
            name = name.strip()
            if not sep or not name:
                raise InputError(f"--{op} {item!r}: expected METRIC=VALUE, e.g. "
                                 "fact_recall=0.5")
            if name not in known:
                raise InputError(f"--{op}: unknown metric {name!r}; known metrics: "
                                 f"{', '.join(known)}")
            try:
                value = float(raw)
            except ValueError as e:
                raise InputError(f"--{op} {item!r}: {raw.strip()!r} is not a number") from e
            out.append(Threshold(name, value, op))
    return out


def check(thresholds: Sequence[Threshold], metrics: Mapping[str, float | None]) -> list[str]:
    """Failure messages, one per threshold not met."""
    return [msg for t in thresholds if (msg := t.failure(metrics)) is not None]
