"""`oneie runs`, `oneie show`, `oneie export`: reading the run store."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from oneie_tui.commands.common import add_store_arg, guarded, open_store


def register(sub: Any) -> None:
    p = sub.add_parser("runs", help="list recorded runs, newest first")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--status", help="only runs with this status (running, completed, failed, cancelled, interrupted)")
    p.add_argument("--json", action="store_true", help="one JSON object per run")
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_runs))

    p = sub.add_parser("show", help="show one run: its agents, metrics and coordination events")
    p.add_argument("run", help="run id, unique prefix, or 'last'")
    p.add_argument("--json", action="store_true")
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_show))

    p = sub.add_parser("export", help="export a run's events (jsonl)")
    p.add_argument("run", help="run id, unique prefix, or 'last'")
    p.add_argument("--format", choices=["jsonl"], default="jsonl")
    p.add_argument("-o", "--output", help="file to write (default: stdout)")
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_export))


def _when(ts: float | None) -> str:
    return "—" if ts is None else datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def run_record(row: Any) -> dict[str, Any]:
    s = row.summary or {}
    return {
        "id": row.id,
        "spec": row.spec_name,
        "spec_path": row.spec_path,
        "status": row.status,
        "started": row.started,
        "ended": row.ended,
        "agents": len(s.get("agents", [])),
        "wall_s": s.get("wall_s"),
        "speedup": s.get("speedup"),
        "tokens": sum(
            int(s.get(k, 0) or 0)
            for k in ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens")
        ),
        "cost_usd": s.get("cost_usd", 0.0),
    }


def cmd_runs(args: argparse.Namespace) -> int:
    store = open_store(args)
    rows = store.list_runs(limit=args.limit, status=args.status)
    if args.json:
        for row in rows:
            print(json.dumps(run_record(row)))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"runs in {store.path}", title_justify="left")
    for col in ("id", "started", "spec", "status", "agents", "wall", "speedup", "cost"):
        table.add_column(col, justify="right" if col in ("agents", "wall", "speedup", "cost") else "left")
    for row in rows:
        r = run_record(row)
        table.add_row(
            r["id"],
            _when(r["started"]),
            r["spec"],
            r["status"],
            str(r["agents"] or "—"),
            "—" if r["wall_s"] is None else f"{r['wall_s']:.2f}s",
            "—" if r["speedup"] is None else f"{r['speedup']:.2f}x",
            f"${r['cost_usd']:.4f}",
        )
    Console().print(table)
    if not rows:
        print("no runs yet: try `oneie run specs/course-crud.toml --headless`")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from oneie_tui.metrics import compute

    store = open_store(args)
    row = store.get_run(args.run)
    events = list(store.events(row.id))
    metrics = compute(events, now=row.ended or (events[-1].ts if events else None))
    data = {**run_record(row), "metrics": metrics.to_dict()}
    coordination = [e.to_dict() for e in events if e.type == "task_event"]
    if args.json:
        print(json.dumps({**data, "coordination": coordination, "events": len(events)}))
        return 0
    from rich.console import Console

    from oneie_tui.headless import summary_table

    console = Console()
    summary = {"run_id": row.id, "status": row.status, **metrics.to_dict()}
    console.print(f"[bold]{row.spec_name}[/] · {_when(row.started)} · {len(events)} events")
    console.print(summary_table(summary))
    for e in coordination:
        t = e["ts"] - (events[0].ts if events else 0)
        console.print(f"  {t:7.2f}s  ⚡ {e['actor']} → {e['metadata'].get('action')}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store = open_store(args)
    row = store.get_run(args.run)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        for e in store.events(row.id):
            out.write(e.to_json() + "\n")
    finally:
        if args.output:
            out.close()
    return 0
