#!/usr/bin/env python3
"""Markdown tables from a bench/compare results file: one table per workload, each system's median of its
repetitions, the 1-minute loadavg before -> after, and Durin's ratio to the best peer of the same file.

    python3 bench/compare-table.py bench/results/compare-<stamp>.jsonl

Reads the JSON lines of durin-bench and of bench/peers/<peer>/run.sh (same field names); stdlib only.
A later `segment` of the same system replaces an earlier one's repetitions of the same workload.
"""
import json
import statistics
import sys

NAMES = {
    ("durin", "rust-checkpoint"): "Durin, Rust SDK, checkpoint",
    ("durin", "rust"): "Durin, Rust SDK, classic",
    ("durin", "ts-classic"): "Durin, TS SDK, classic",
    ("durin", "ts-checkpoint"): "Durin, TS SDK, checkpoint",
    ("restate", "ts"): "Restate (TS SDK)",
    ("temporal", "python"): "Temporal (Python SDK)",
    ("dbos", "python"): "DBOS (Python) + PostgreSQL",
    ("apalis", "rust"): "apalis (Rust) + SQLite",
}

# workload key -> (title, figure, field, higher is better)
WORKLOADS = {
    "W1seq": ("W1seq: 100 runs of 3 steps, 1 in flight", "median run latency (ms)", "medLatMs", False),
    "W2": ("W2 flaky-step: 200 runs, 100 in flight, step 2 fails on attempts 0 and 1", "wall (s)", "wallS", False),
    "W3": ("W3: one run of 1,000 sequential steps", "ms per step", "msPerStep", False),
}
DURIN_ORDER = [name for (engine, _), name in NAMES.items() if engine == "durin"]


def system_of(line):
    key = (line.get("engine", "?"), line.get("sdk", "?"))
    return NAMES.get(key, f"{key[0]} ({key[1]})")


def workload_of(line):
    w = line.get("w")
    if w == "W1":
        return f"W1 N={line.get('n')}"
    return w


def spec(workload):
    if workload.startswith("W1 N="):
        n = workload.split("=", 1)[1]
        return (f"W1 three-step: N={int(n):,} runs, 100 in flight", "runs/s", "runsPerS", True)
    return WORKLOADS.get(workload)


def fmt(x):
    if x is None:
        return "–"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}" if abs(x) >= 1 else f"{x:.3f}"


def load1(text):
    return (text or "?").split()[0]


def main(path):
    lines = []
    for raw in open(path):
        raw = raw.strip()
        if raw.startswith("{"):
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                pass
    segment = 0
    binary = None  # the `durin-binary` line: which build every Durin part ran
    reps = {}  # (workload, system) -> {segment: [rep lines]}
    conditions = {}  # (workload lower-case, system, segment) -> conditions line
    failures = []  # (system, workload or None, text)
    meta = {}  # system -> meta line
    run_info = [l for l in lines if l.get("kind") == "compare"]
    for line in lines:
        kind = line.get("kind")
        if kind == "segment":
            segment += 1
            continue
        if kind == "failed":
            failures.append((line.get("system"), None, f"exit {line.get('exit')}"))
            continue
        if kind == "durin-binary":
            binary = line
            continue
        if kind == "compare" or "engine" not in line:
            continue
        system = system_of(line)
        if kind == "meta":
            meta[system] = line
        elif kind == "conditions":
            conditions[(line.get("w", "").lower(), system, segment)] = line
        elif "failed" in line:
            failures.append((system, line.get("w"), str(line["failed"]).splitlines()[0][:160]))
        elif "rep" in line and not line.get("summary"):
            reps.setdefault((workload_of(line), system), {}).setdefault(segment, []).append(line)

    out = []
    started = next((l["started"] for l in run_info if "started" in l), "?")
    finished = next((l["finished"] for l in run_info if "finished" in l), "?")
    out.append(f"Results: `{path}` (started {started}, finished {finished}).")
    out.append("")
    order = ["W1seq"] + sorted({w for w, _ in reps if w.startswith("W1 N=")}, key=lambda w: int(w.split("=")[1])) + ["W2", "W3"]
    for workload in order:
        s = spec(workload)
        systems = [(sys_, segs) for (w, sys_), segs in reps.items() if w == workload]
        if s is None or not systems:
            continue
        title, figure, field, higher = s
        rows = []
        for system, segs in systems:
            seg = max(segs)
            group = sorted(segs[seg], key=lambda l: l.get("rep", 0))
            values = []
            for l in group:
                v = l.get(field)
                if v is None and field == "wallS" and "wallMs" in l:
                    v = l["wallMs"] / 1000
                if v is not None:
                    values.append(float(v))
            if not values:
                continue
            med = statistics.median(values)
            cond = conditions.get((workload.split(" ")[0].lower(), system, seg), {})
            extra = ""
            if workload.startswith("W1 N="):
                p50 = statistics.median(l["medLatMs"] for l in group)
                p99 = statistics.median(l["p99LatMs"] for l in group)
                extra = f"{fmt(3 * med)} steps/s; p50 / p99 {fmt(p50)} / {fmt(p99)} ms"
            elif workload == "W1seq":
                extra = f"p99 {fmt(statistics.median(l['p99LatMs'] for l in group))} ms"
            elif workload == "W2":
                n = group[0].get("n")
                ok = [l.get("exactly3Attempts") for l in group]
                done = [l.get("completed") for l in group]
                verified = all(o == n for o in ok) and all(d == n for d in done)
                extra = f"{'verified' if verified else 'NOT verified'}: completed {'/'.join(map(str, done))}, flaky step ran 3× in {'/'.join(map(str, ok))} of {n}"
            load = f"{load1(group[0].get('loadavgBefore'))} → {load1(group[-1].get('loadavgAfter'))}"
            fsync = cond.get("fdatasync_8k_ms")
            rows.append({"system": system, "durin": system.startswith("Durin"), "med": med, "values": values,
                         "extra": extra, "load": load, "fsync": fsync, "segment": seg, "superseded": len(segs) > 1})
        peers = [r for r in rows if not r["durin"]]
        best = (max if higher else min)(peers, key=lambda r: r["med"]) if peers else None
        out.append(f"### {title}")
        out.append("")
        out.append(f"| system | {figure}, median | repetitions | more | loadavg 1 min, before → after | fdatasync 8 KiB (ms) | Durin ÷ best peer |")
        out.append("|---|---|---|---|---|---|---|")
        def order(r):
            if r["durin"]:
                return (0, DURIN_ORDER.index(r["system"]) if r["system"] in DURIN_ORDER else 99)
            return (1, -r["med"] if higher else r["med"])
        rows.sort(key=order)
        for r in rows:
            if r["durin"] and best:
                ratio = r["med"] / best["med"] if higher else best["med"] / r["med"]
                verdict = "ahead of" if ratio > 1 else "behind"
                ratio_text = f"**{ratio:.2f}×** ({verdict} {best['system'].split(' ')[0]})"
            elif r is best:
                ratio_text = "(best peer)"
            else:
                ratio_text = ""
            name = r["system"] + (" (re-run)" if r["superseded"] else "")
            out.append(f"| {name} | **{fmt(r['med'])}** | {' / '.join(fmt(v) for v in r['values'])} | {r['extra']} | "
                       f"{r['load']} | {r['fsync'] if r['fsync'] is not None else '–'} | {ratio_text} |")
        out.append("")
    out.append("Durin ÷ best peer: the best peer's figure over Durin's for times, Durin's over the best peer's for "
               "runs/s; above 1 means Durin is ahead. loadavg: before the first and after the last repetition.")
    out.append("")
    if failures:
        out.append("**Failures:**")
        for system, w, text in failures:
            out.append(f"- {system}{' ' + w if w else ''}: {text}")
        out.append("")
    if meta:
        out.append("### Systems: versions, storage and durability")
        out.append("")
        out.append("| system | versions | storage / durability |")
        out.append("|---|---|---|")
        for system, m in meta.items():
            if m.get("engine") == "durin":
                app = m.get("app") or {}
                versions = f"{m.get('durin_version', '?')} (commit {m.get('commit', '?')}, {len(m.get('dirty_files', []))} dirty files)"
                if binary:
                    versions += f"; binary built {binary.get('built')}, sha256 {binary.get('sha256')}…"
                if app.get("inngest"):
                    versions += f"; npm inngest {app['inngest']}, node {app.get('node', '?')}"
                store = m.get("store", "?")
            else:
                versions = ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items())
                store = m.get("store", "?")
            out.append(f"| {system} | {versions} | {store} |")
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
