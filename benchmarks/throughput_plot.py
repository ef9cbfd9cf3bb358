"""Draw the end-to-end throughput figures (``benchmarks.throughput``'s JSON) as one PNG:
alerts/s against offered load, and p50/p99 latency against offered load.

    .venv/bin/python -m benchmarks.throughput_plot docs/perf/throughput-sqlite.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any


def _label(load: dict[str, Any]) -> str:
    rate = load["rate"]
    offered = "flat out" if rate is None else f"{rate:g}/s"
    return f"{offered}\n({load['people']:,})"


def _finite(values: list[float]) -> list[float]:
    return [v if v is not None and math.isfinite(v) else math.nan for v in values]


def _throughput(ax: Any, loads: list[dict[str, Any]], raw: dict[str, Any] | None) -> None:
    xs = range(len(loads))
    ax.bar(xs, _finite([x["alerts_per_s"] for x in loads]), color="tab:blue", label="alerts/s delivered")
    offered = [x["rate"] if x["rate"] is not None else math.nan for x in loads]
    ax.plot(xs, offered, "k_", markersize=28, markeredgewidth=2, label="offered")
    for x, load in zip(xs, loads, strict=True):
        if (rate := load["alerts_per_s"]) is not None:
            ax.annotate(f"{rate:,.0f}", (x, rate), ha="center", va="bottom")
    ax.set_xticks(list(xs), [_label(x) for x in loads])
    ax.set_ylabel("DNA alerts per second")
    title = "Throughput"
    if raw:
        title += f" (raw broker {raw['per_s']:,.0f} msg/s)"
    ax.set_title(title)
    ax.legend(loc="upper left")


P99_TARGETS_S = {200.0: 0.5, 500.0: 2.0}
"""Issue 12's p99 targets by offered rate."""


def _seconds(value: float, _position: object = None) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:g} s"


def _latency(ax: Any, loads: list[dict[str, Any]]) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    xs = list(range(len(loads)))
    for key, style in (("p50_s", "o-"), ("p99_s", "s--")):
        ax.plot(xs, _finite([x[key] for x in loads]), style, label=key.removesuffix("_s"))
    targets = [(x, P99_TARGETS_S[load["rate"]]) for x, load in enumerate(loads) if load["rate"] in P99_TARGETS_S]
    if targets:
        ax.plot(*zip(*targets, strict=True), "rv", label="p99 target (issue 12)")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(_seconds))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(xs, [_label(x) for x in loads])
    ax.set_ylabel("missed → alert")
    ax.set_title("Latency")
    ax.grid(True, which="major", axis="y", alpha=0.3)
    ax.legend(loc="best")


def draw(report: dict[str, Any], png: Path) -> None:
    """Write ``png``: the two panels for ``report`` (a ``Report.as_dict()``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loads = report["loads"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    _throughput(left, loads, report.get("raw"))
    _latency(right, loads)
    fig.suptitle(
        f"DNA alert end to end, {report['database']}, {report['cpus']} CPUs "
        f"(services, broker and harness on one machine), {report['started_at'][:16]}"
    )
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput_plot")
    parser.add_argument("json", type=Path, help="figures written by benchmarks.throughput")
    parser.add_argument("--png", type=Path, default=None, help="default: the JSON's path with .png")
    args = parser.parse_args(argv)
    png = args.png or args.json.with_suffix(".png")
    draw(json.loads(args.json.read_text()), png)
    print(png)


if __name__ == "__main__":
    main()
