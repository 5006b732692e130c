"""The results: one JSON document in bench/results/<UTC timestamp>.json, and a short table for humans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO


def write_json(document: dict[str, Any], results_dir: Path, stamp: str) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{stamp}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return path


def collect_ratios(benchmarks: dict[str, Any]) -> dict[str, float | None]:
    """The headline ratios, flat, for the top of the JSON document."""
    found: dict[str, float | None] = {}
    es = benchmarks.get("eventstore", {})
    for writers, ratios in es.get("ratios", {}).items():
        for name, value in ratios.items():
            found[f"eventstore.{writers}.{name}"] = value
    for name in ("hop", "intake", "e2e", "notify"):
        for key, value in benchmarks.get(name, {}).get("ratios", {}).items():
            found[f"{name}.{key}"] = value
    return found


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


NOISY_SHARE = 0.10  # other processes took at least this share of all cores during a measurement


def table(benchmarks: dict[str, Any], out: TextIO) -> None:
    rows: list[tuple[str, str, str, str, str, str]] = []
    notes: list[str] = []
    es = benchmarks.get("eventstore")
    if es and "runs" in es:
        for writers, variants in es["runs"].items():
            raw = variants["raw_insert"]
            n = writers.split("_")[1]
            for name, fig in variants.items():
                if name == "raw_insert":
                    continue
                rows.append(
                    (
                        "eventstore",
                        f"{name} appends/s, {n} writer(s)",
                        _fmt(fig["per_second"]),
                        f"{_fmt(raw['per_second'])} raw",
                        _fmt(es["ratios"][writers][f"{name}_over_raw"], 3),
                        "",
                    )
                )
    elif es:
        rows.append(("eventstore", "failed", str(es.get("error", ""))[:60], "", "", ""))
    if "hop" in benchmarks:  # its rows come from bench/hop.py
        from bench.hop import table_rows as hop_rows

        rows.extend(hop_rows(benchmarks["hop"]))
    it = benchmarks.get("intake")
    if it and "targets" in it:
        i, b = it["targets"]["intake"], it["targets"]["bare"]
        c = it["parameters"]["concurrency"]
        met = "met" if it["target"]["met"] else "NOT met"
        rows.append(
            (
                "intake",
                f"requests/s, {c} connections",
                _fmt(i["requests_per_second"]),
                f"{_fmt(b['requests_per_second'])} bare",
                _fmt(it["ratios"]["throughput_intake_over_bare"], 3),
                f">= 0.50 {met}",
            )
        )
        rows.append(
            (
                "intake",
                "p50 / p99 ms",
                f"{_fmt(i['latency_ok']['p50_ms'])} / {_fmt(i['latency_ok']['p99_ms'])}",
                f"{_fmt(b['latency_ok']['p50_ms'])} / {_fmt(b['latency_ok']['p99_ms'])}",
                _fmt(it["ratios"]["p50_intake_over_bare"], 3),
                "",
            )
        )
        rows.append(("intake", "errors (non-2xx)", str(i["errors"]), str(b["errors"]), "", ""))
        rows.append(
            (
                "intake",
                "server CPU ms/request",
                _fmt(i["cpu_per_request"].get("server_cpu_ms"), 2),
                _fmt(b["cpu_per_request"].get("server_cpu_ms"), 2),
                _fmt(it["ratios"]["server_cpu_per_request_intake_over_bare"], 3),
                "",
            )
        )
    elif it:
        rows.append(("intake", "failed", str(it.get("error", ""))[:60], "", "", ""))
    e2e = benchmarks.get("e2e")
    if e2e and "latency" in e2e:
        lat, http = e2e["latency"], e2e["intake_http"]["latency_ok"]
        rate = e2e["parameters"]["rate_per_second"]
        met = "met" if e2e["target"]["met"] else "NOT met"
        rows.append(
            (
                "e2e",
                f"p50 / p99 / max ms at {rate:g}/s",
                f"{_fmt(lat['p50_ms'])} / {_fmt(lat['p99_ms'])} / {_fmt(lat['max_ms'])}",
                f"{_fmt(http['p50_ms'])} / {_fmt(http['p99_ms'])} HTTP",
                _fmt(e2e["ratios"]["e2e_p50_over_intake_http_p50"], 2),
                f"p99 < 1000 ms {met}",
            )
        )
        rows.append(
            (
                "e2e",
                "submitted / arrived, send rate",
                f"{e2e['submitted']} / {e2e['arrived']}",
                f"{_fmt(e2e['achieved_send_rate'], 2)}/s",
                "",
                "",
            )
        )
    elif e2e:
        rows.append(("e2e", "failed", str(e2e.get("error", ""))[:60], "", "", ""))
    if "notify" in benchmarks:  # its rows come from bench/notify.py
        from bench.notify import table_rows as notify_rows

        rows.extend(notify_rows(benchmarks["notify"]))
    for name, share in _noise(benchmarks).items():
        if share >= NOISY_SHARE:
            notes.append(
                f"note: other processes used up to {share:.0%} of the machine during {name}; "
                "its ratios are less trustworthy (see cpu.other_share in the JSON)"
            )
    header = ("benchmark", "measure", "value", "baseline", "ratio", "target")
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    out.writelines("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() + "\n" for r in [header, *rows])  # noqa: B905
    out.writelines(note + "\n" for note in notes)


def _noise(benchmarks: dict[str, Any]) -> dict[str, float]:
    """The largest cpu.other_share of any measurement, per benchmark."""
    found: dict[str, float] = {}

    def walk(name: str, node: Any) -> None:
        if isinstance(node, dict):
            share = node.get("other_share")
            if isinstance(share, (int, float)):
                found[name] = max(found.get(name, 0.0), float(share))
            for value in node.values():
                walk(name, value)

    for name, figures in benchmarks.items():
        walk(name, figures)
    return found
