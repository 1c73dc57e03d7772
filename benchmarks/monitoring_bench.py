"""Monitoring at scale: fill a prediction store with N predictions, time every dashboard page.

The store gets `--rows` predictions (default 1,000,000) spread uniformly over the last 24 hours,
with 12 features shaped like the seed sample, and ground truth for `--feedback-share` of them.
A champion is registered in a local MLflow store the way training registers one, so the pages
run exactly as in production. Each page is rendered with Streamlit's AppTest for two windows: the
default 60 minutes and 24 hours (every row in the window); the SQL queries behind the pages are
timed on their own as well. Prints a table and one JSON line.

    uv run python benchmarks/monitoring_bench.py [--rows 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert
from summary import emit

from mlstack_core.testing.servers import clean_up_on_sigterm

NUMERIC = (
    "age",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "devices",
    "days_since_last_login",
)
CATEGORICAL = {
    "contract": ("month-to-month", "one-year", "two-year"),
    "internet_service": ("dsl", "fiber", "none"),
    "payment_method": ("bank-transfer", "credit-card", "electronic-check", "mailed-check"),
    "paperless_billing": ("no", "yes"),
    "region": ("east", "north", "south", "west"),
}
PAGES = ("overview", "models", "traffic", "drift", "quality")
WINDOWS = (60, 1440)
BATCH = 50_000
POOL = 20_000


def features(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            name: rng.normal(10 * (i + 1), 3 * (i + 1), rows).round(2)
            for i, name in enumerate(NUMERIC)
        }
    )
    for name, values in CATEGORICAL.items():
        frame[name] = rng.choice(values, rows)
    frame["churned"] = rng.choice(("no", "yes"), rows, p=(0.7, 0.3))
    return frame


def register_champion(home: Path, rng: np.random.Generator) -> None:
    """A champion registered as training registers one (model, spec, profile, held-out rows)."""
    from mlstack_core.settings import Settings
    from mlstack_core.spec import DatasetSpec
    from mlstack_core.testing.champion import register_champion as register

    spec = DatasetSpec(
        name="bench",
        target="churned",
        task="binary",
        numeric=NUMERIC,
        categorical=tuple(CATEGORICAL),
        classes=("no", "yes"),
        categories={k: tuple(v) for k, v in CATEGORICAL.items()},
    )
    register(Settings(home=home), spec, features(5000, rng), features(500, rng), reason="benchmark")


def fill(url: str, rows: int, feedback_share: float, seed: int) -> float:
    """Insert `rows` predictions (and feedback) in batches, then build the rollups from them;
    returns the seconds it took."""
    from mlstack_core.store import Feedback, Prediction, PredictionStore

    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    pool = features(POOL, rng)
    inputs = pool[[*NUMERIC, *CATEGORICAL]].to_dict(orient="records")
    labels = pool["churned"].tolist()
    store = PredictionStore(url)
    store.migrate()
    now = datetime.now(UTC)
    started = time.perf_counter()
    with store.engine.begin() as conn:
        for offset in range(0, rows, BATCH):
            predictions: list[dict[str, Any]] = []
            feedback: list[dict[str, Any]] = []
            for _ in range(min(BATCH, rows - offset)):
                i = pick.randrange(POOL)
                at = now - timedelta(seconds=pick.random() * 86_400)
                predicted = "yes" if pick.random() < 0.3 else "no"
                key = str(uuid.uuid4())
                predictions.append(
                    {
                        "id": key,
                        "created_at": at,
                        "model_version": "1",
                        "inputs": inputs[i],
                        "prediction": predicted,
                        "prediction_value": None,
                        "probabilities": {"no": 0.6, "yes": 0.4},
                        "latency_ms": pick.lognormvariate(2.0, 0.5),
                    }
                )
                if pick.random() < feedback_share:
                    feedback.append(
                        {
                            "prediction_id": key,
                            "received_at": at,
                            "actual": labels[i],
                            "actual_value": None,
                        }
                    )
            conn.execute(insert(Prediction), predictions)
            if feedback:
                conn.execute(insert(Feedback), feedback)
            print(f"\r  filled {offset + len(predictions):,} / {rows:,}", end="", file=sys.stderr)
    print(file=sys.stderr)
    store.rebuild_rollups()  # rows went in around `write`, which keeps the rollups
    store.dispose()
    return time.perf_counter() - started


def add_prediction(url: str) -> None:
    """One new prediction, as live traffic would bring: the drift cache must recompute."""
    from mlstack_core.store import PredictionRecord, PredictionStore

    features_pool = features(1, np.random.default_rng())
    store = PredictionStore(url)
    store.write(
        [
            PredictionRecord(
                model_version="1",
                inputs=features_pool[[*NUMERIC, *CATEGORICAL]].to_dict(orient="records")[0],
                prediction="no",
                latency_ms=7.0,
            )
        ]
    )
    store.dispose()


def timed(
    action: Callable[[], object], repeat: int = 3, before: Callable[[], None] | None = None
) -> float:
    """Median seconds of `repeat` runs (after the caller has warmed caches); `before` runs
    untimed ahead of each run."""
    runs = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def quiet_bare_mode() -> None:
    """AppTest runs pages outside `streamlit run`, and Streamlit then warns about bare mode
    about once per page run, which buried the figures; a page's own errors still surface
    through `app.exception`."""
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: "missing ScriptRunContext" not in record.getMessage()
    )


def render(page: str) -> None:
    from streamlit.testing.v1 import AppTest

    from mlstack_dashboard.app import VIEWS

    app = AppTest.from_file(str(VIEWS / f"{page}.py"), default_timeout=120)
    app.run()
    if app.exception:
        raise RuntimeError(f"page {page} failed: {app.exception[0].value}")


def pandas_peer(engine: Any, since: datetime, width: int) -> object:
    """The peer SQL aggregation replaces: read the table into pandas and aggregate there."""
    frame = pd.read_sql(
        "SELECT created_at, latency_ms, model_version, prediction FROM predictions", engine
    )
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    recent = frame[frame["created_at"] >= since]
    per_bucket = recent.resample(f"{width}s", on="created_at")["latency_ms"].agg(
        ["count", "mean", "max"]
    )
    quantiles = recent["latency_ms"].quantile([0.5, 0.95, 0.99])
    return per_bucket, quantiles, recent["prediction"].value_counts().head(50)


def measure(window: int) -> dict[str, float]:
    """Median timings of each query and each page for one look-back window."""
    from mlstack_core.settings import load_settings
    from mlstack_dashboard.monitoring import Monitor, bucket_seconds

    os.environ["MLSTACK_MONITOR_WINDOW_MINUTES"] = str(window)
    monitor = Monitor(load_settings())
    since = monitor.since(window)
    champion = monitor.champion()
    width = bucket_seconds(window)
    reader = monitor.reader
    queries: dict[str, Callable[[], object]] = {
        "q:totals": lambda: reader.totals(since),
        "q:traffic": lambda: reader.traffic(since, width),
        "q:latency": lambda: reader.latency(since),
        "q:labels": lambda: reader.label_counts(since),
        "q:versions": lambda: reader.versions(since),
        "q:quality": lambda: reader.quality(since, width),
        "q:drift": lambda: monitor.drift(window, champion),
        "q:report": lambda: monitor.report(window),
        "peer:pandas(traffic+latency+labels)": lambda: pandas_peer(reader.engine, since, width),
    }
    row: dict[str, float] = {"rows_in_window": float(reader.totals(since).predictions)}

    def fresh() -> None:
        add_prediction(monitor.settings.store_url)

    for name, action in queries.items():
        action()
        row[name] = timed(action, before=fresh)
    for page in PAGES:
        render(page)
        row[f"page:{page}"] = timed(lambda page=page: render(page), before=fresh)
    monitor.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--feedback-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="Use (and keep) this state folder.")
    parser.add_argument("--save", type=Path, help="Also write the JSON summary to this file.")
    args = parser.parse_args()
    clean_up_on_sigterm()
    if args.keep:
        bench(args.keep, args)
        return
    # A 1M-row store is about 650 MB: one left behind per run would fill the disk.
    with tempfile.TemporaryDirectory(prefix="mlstack-monitoring-bench-") as folder:
        bench(Path(folder), args)


def bench(home: Path, args: argparse.Namespace) -> None:
    """Fill `home`'s store unless it holds one, then time the queries and pages."""
    os.environ["MLSTACK_HOME"] = str(home)
    for name in ("MLSTACK_TRACKING_URI", "MLSTACK_PREDICTION_STORE_URL"):
        os.environ.pop(name, None)

    from mlstack_core.settings import load_settings

    settings = load_settings()
    fill_seconds = None
    if not (home / "predictions.db").exists():
        register_champion(home, np.random.default_rng(args.seed + 1))
        fill_seconds = fill(settings.store_url, args.rows, args.feedback_share, args.seed)
        # Flushed before anything is timed: the writeback of the fill's hundreds of MB would
        # otherwise run during the first window's page renders.
        os.sync()
    size_mb = (home / "predictions.db").stat().st_size / 1e6

    quiet_bare_mode()
    results = {f"{window}min": measure(window) for window in WINDOWS}

    names = [k for k in next(iter(results.values())) if k != "rows_in_window"]
    header = f"{'measure (median of 3, s)':<28}" + "".join(f"{w:>16}" for w in results)
    print("a new prediction is written before every timed run, so drift is never served cached")
    where = home if args.keep else f"{home} (removed at the end; --keep DIR keeps it)"
    print(f"store: {args.rows:,} predictions, {size_mb:.0f} MB SQLite at {where}")
    if fill_seconds is not None:
        print(f"fill: {fill_seconds:.1f} s ({args.rows / fill_seconds:,.0f} rows/s)")
    print(header)
    print(
        f"{'rows in window':<28}"
        + "".join(f"{int(r['rows_in_window']):>16,}" for r in results.values())
    )
    for name in names:
        print(f"{name:<28}" + "".join(f"{r[name]:>16.3f}" for r in results.values()))
    for label, r in results.items():
        sql = r["q:totals"] + r["q:traffic"] + r["q:latency"] + r["q:labels"]
        peer = r["peer:pandas(traffic+latency+labels)"]
        print(
            f"{label}: SQL aggregates {sql:.3f} s vs pandas over the table {peer:.3f} s "
            f"({peer / sql:.1f}x)"
        )
    slowest = max(r[k] for r in results.values() for k in r if k.startswith("page:"))
    print(f"slowest page render: {slowest:.3f} s (target <= 1.5 s)")
    summary = {
        "benchmark": "monitoring",
        "rows": args.rows,
        "store_mb": round(size_mb),
        "fill_seconds": fill_seconds,
        "windows": results,
        "slowest_page_s": slowest,
    }
    emit(summary, args.save)


if __name__ == "__main__":
    main()
