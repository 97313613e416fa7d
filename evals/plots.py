"""Report figures as PNG bytes (matplotlib's Agg canvas; no display, no pyplot state).

matplotlib comes with the `evals` extra; without it every figure is b"" and the reports
say how to get them (evals/report.py)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def available() -> bool:
    """Is matplotlib installed?"""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float = 6.4, height: float = 3.6) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def recall_curves(curves: Mapping[str, Sequence[float]], title: str = "Recall@k") -> bytes:
    """One line per mode: mean Recall@k for k = 1..K (log x axis when K is large)."""
    if not available():
        return b""
    fig = _figure()
    ax = fig.add_subplot()
    for mode, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, label=mode, linewidth=2 if
                mode == "default" else 1.2)
    if max((len(v) for v in curves.values()), default=0) > 20:
        ax.set_xscale("log")
    ax.set(xlabel="k (papers)", ylabel="mean recall", ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _png(fig)


def latency_histogram(latencies: Mapping[str, Sequence[float]],
                      title: str = "Latency per question") -> bytes:
    """Overlaid histograms of latencies in milliseconds, one per series."""
    if not available():
        return b""
    fig = _figure()
    ax = fig.add_subplot()
    values = [v for series in latencies.values() for v in series]
    bins = 30 if values else 1
    top = max(values, default=1.0)
    for label, series in latencies.items():
        ax.hist(series, bins=bins, range=(0, top), alpha=0.55, label=label)
    ax.set(xlabel="milliseconds", ylabel="questions", title=title)
    if len(latencies) > 1:
        ax.legend()
    return _png(fig)


def kind_bars(by_kind: Mapping[str, Mapping[str, float | None]], names: Sequence[str],
              title: str = "Metrics by question kind") -> bytes:
    """Grouped bars: for each metric, one bar per kind (missing values are left out)."""
    if not available():
        return b""
    fig = _figure(7.2, 3.8)
    ax = fig.add_subplot()
    kinds = list(by_kind)
    width = 0.8 / max(len(kinds), 1)
    for i, kind in enumerate(kinds):
        xs = [j + i * width for j, n in enumerate(names) if by_kind[kind].get(n) is not None]
        ys = [by_kind[kind][n] or 0.0 for n in names if by_kind[kind].get(n) is not None]
        ax.bar(xs, ys, width=width, label=kind)
    ax.set_xticks([j + width * (len(kinds) - 1) / 2 for j in range(len(names))], list(names),
                  rotation=20, ha="right")
    ax.set(ylim=(0, 1.05), title=title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    return _png(fig)
