"""Draw the chaos run's timeline (``benchmarks.chaos``'s JSON ``timeline``) as one PNG: input
events published and first processed, and decisions audited, per second and cumulative, with a
mark at each SIGKILL and each restart.

    .venv/bin/python -m benchmarks.chaos_plot docs/perf/chaos.json
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

SERIES = (
    ("published", "input events published", "tab:blue"),
    ("processed", "input events processed (first consumer's inbox)", "tab:green"),
    ("decided", "decisions audited", "tab:purple"),
)


def draw(timeline: dict[str, Any], path: Path, title: str = "chaos run") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (rate, total) = plt.subplots(2, 1, figsize=(12, 8), sharex=True)
    step = timeline.get("bin_s", 1)
    for key, label, colour in SERIES:
        counts = timeline.get(key) or []
        xs = [i * step for i in range(len(counts))]
        rate.plot(xs, counts, color=colour, label=label, linewidth=1)
        total.plot(xs, list(itertools.accumulate(counts)), color=colour, label=label)
    for ax in (rate, total):
        for label, (began, ended) in (timeline.get("phases") or {}).items():
            ax.axvspan(began, ended, alpha=0.06, color="grey")
            if ax is total:
                ax.annotate(label, (began, 0), xytext=(2, 2), textcoords="offset points", fontsize=8)
        for kill in timeline.get("kills") or []:
            if kill.get("killed_at") is not None:
                ax.axvline(kill["killed_at"], color="tab:red", linestyle="-", linewidth=1.2)
            if kill.get("restarted_at") is not None:
                ax.axvline(kill["restarted_at"], color="tab:red", linestyle=":", linewidth=1)
        if timeline.get("settled_s") is not None:
            ax.axvline(timeline["settled_s"], color="black", linestyle="--", linewidth=1)
    top = rate.get_ylim()[1]
    for kill in timeline.get("kills") or []:
        if kill.get("killed_at") is not None:
            rate.annotate(
                f"kill {kill['replica']}", (kill["killed_at"], top), rotation=90, va="top", ha="right", fontsize=8
            )
    rate.set_ylabel("per second")
    rate.set_title(f"{title} (red: SIGKILL, dotted: restarted and ready, dashed: settled)")
    rate.legend(loc="upper right", fontsize=8)
    total.set_ylabel("cumulative")
    total.set_xlabel("seconds since the first input event was published")
    total.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos_plot")
    parser.add_argument("json", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    data = json.loads(args.json.read_text())
    draw(data["timeline"], args.out or args.json.with_name("chaos-timeline.png"))


if __name__ == "__main__":
    main()
