"""One table: the performance targets of issue 13 beside the values the benchmarks measured.

Reads the JSON summaries the benchmarks saved (`--save`) in FOLDER; a benchmark that was not
run shows as "-". Not a test: `invoke bench` prints it after the benchmarks.

    python benchmarks/targets.py FOLDER
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Summary = dict[str, Any]


def _result(summary: Summary, server: str, connections: int) -> Summary:
    return next(
        r for r in summary["results"] if (r["server"], r["connections"]) == (server, connections)
    )


def _start(summary: Summary, kind: str, key: str) -> float | None:
    value = next(r for r in summary["results"] if r["kind"] == kind)[key]
    return float(value) if value is not None else None


def _slowest_start(summary: Summary, key: str) -> float | None:
    values = [r[key] for r in summary["results"]]
    return None if None in values else float(max(values))


# what, target text, benchmark file, measured value, met when value <= / >= target
TARGETS: list[tuple[str, str, str, Callable[[Summary], float | None], str, float]] = [
    ("fresh clone, cold uv cache -> first prediction (s)", "<= 35", "startup",
     lambda s: _start(s, "cold", "first_prediction_s"), "<=", 35.0),
    ("`invoke up`, model and Bento present -> all healthy (s)", "<= 8", "startup",
     lambda s: _start(s, "warm", "all_healthy_s"), "<=", 8.0),
    ("/predict 4 connections p50 (ms)", "<= 5", "serving",
     lambda s: _result(s, "mlstack", 4)["p50_ms"], "<=", 5.0),
    ("/predict 4 connections p99 (ms)", "<= 15", "serving",
     lambda s: _result(s, "mlstack", 4)["p99_ms"], "<=", 15.0),
    ("/predict 32 connections, x mlflow models serve", ">= 15", "serving",
     lambda s: s["ratio_rps_c32"], ">=", 15.0),
    ("/predict 32 connections, share of bare Starlette", ">= 0.20", "serving",
     lambda s: s["floor_share_c32"], ">=", 0.20),
    ("dashboard first render after `up` is healthy, cold and warm (s)", "<= 3", "startup",
     lambda s: _slowest_start(s, "first_render_s"), "<=", 3.0),
    ("dashboard 1M predictions, slowest page, 60 min and 24 h (s)", "<= 1.5", "monitoring",
     lambda s: s["slowest_page_s"], "<=", 1.5),
]  # fmt: skip


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".mlstack/bench")
    summaries = {
        name: json.loads((folder / f"{name}.json").read_text())
        for name in ("startup", "serving", "monitoring")
        if (folder / f"{name}.json").is_file()
    }
    print(f"{'what':<62} {'target':>8} {'measured':>9} {'met':>4}")
    rows = []
    for what, target, bench, measure, way, bound in TARGETS:
        value = measure(summaries[bench]) if bench in summaries else None
        met = "-" if value is None else (value <= bound if way == "<=" else value >= bound)
        shown = "-" if value is None else f"{value:.3g}"
        rows.append({"what": what, "target": target, "measured": value, "met": met})
        verdict = "-" if met == "-" else ("yes" if met else "NO")
        print(f"{what:<62} {target:>8} {shown:>9} {verdict:>4}")
    print(json.dumps({"benchmark": "targets", "rows": rows}))


if __name__ == "__main__":
    main()
