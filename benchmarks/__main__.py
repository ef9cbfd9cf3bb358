"""``python -m benchmarks``: the event-path and audit-trail benchmarks (``make bench``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import audit_consume, broker_batches, consumers, pipeline, signing, throughput
from .audit import build, measure


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument("--reuse", action="store_true", help="reuse the database if already built (else build it)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes verify walks the chain with (default: one per CPU, at most 4)",
    )
    parser.add_argument(
        "--only",
        choices=["throughput", "audit", "pipeline", "signing", "consumers", "audit_consume", "broker_batches"],
        default=None,
        help="run one benchmark only",
    )
    parser.add_argument(
        "--database", choices=["sqlite", "postgres"], default="sqlite", help="for the end-to-end throughput benchmark"
    )
    parser.add_argument("--events", type=int, default=5_000, help="events for the pipeline benchmark")
    args = parser.parse_args()
    if args.only in (None, "signing"):
        signing.run()
    if args.only == "signing":
        return
    if args.only in (None, "consumers"):
        consumers.run()
    if args.only == "consumers":
        return
    if args.only in (None, "broker_batches"):
        broker_batches.run()
    if args.only == "broker_batches":
        return
    if args.only in (None, "audit_consume"):
        audit_consume.run()
    if args.only == "audit_consume":
        return
    if args.only in (None, "throughput"):
        throughput.main(["--database", args.database])
    if args.only == "throughput":
        return
    if args.only != "audit":
        pipeline.run(args.events)
    if args.only == "pipeline":
        return
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"audit-{args.records}.db"
    if not (args.reuse and path.exists()):
        took = build(path, args.records)
        print(f"built {args.records:,} chained records in {took:.1f}s: {path}", flush=True)
    result = measure(path, args.records, args.runs, workers=args.workers)
    load = ", ".join(f"{x:.2f}" for x in result["load"])
    print(
        f"verify (isp_audit.verify.verify, whole chain, {result['workers']} processes): {result['verify_s']:.2f}s"
        f"  (target < 10 s; load average before: {load} on {os.cpu_count()} CPUs)"
    )
    for name, label in (
        ("person", "person filter"),
        ("org_dates", "org + 30-day date filter"),
        ("person_as_ig_officer", "person filter as ig_officer (scoped)"),
    ):
        t = result[name]
        print(
            f"query {label} (isp_audit.query.search, limit 50, no HTTP): "
            f"p50 {t.p50_ms:.1f} ms, p95 {t.p95_ms:.1f} ms, mean rows {t.mean_rows:.0f}  (target p95 < 50 ms)"
        )


if __name__ == "__main__":
    main()
