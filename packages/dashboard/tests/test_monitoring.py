"""Monitoring statistics on known data: SQL aggregates, drift tests and alert rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from conftest import SPEC, Champion, churn_frame

from mlstack_core.settings import Settings
from mlstack_core.store import PredictionRecord, PredictionStore
from mlstack_core.testing.servers import free_port
from mlstack_dashboard.alerts import QualitySummary, drift_alert, latency_alert, quality_alert
from mlstack_dashboard.drift import detect_drift
from mlstack_dashboard.monitoring import Monitor, bucket_seconds, span_bucket_seconds
from mlstack_dashboard.queries import LatencySummary, StoreReader


def store_with(settings: Settings, records: list[PredictionRecord]) -> PredictionStore:
    store = PredictionStore(settings.store_url)
    store.migrate()
    store.write(records)
    return store


def record(
    minutes_ago: float, latency_ms: float = 10.0, prediction: str = "no", value: float | None = None
) -> PredictionRecord:
    return PredictionRecord(
        model_version="1",
        inputs={"age": 40.0},
        prediction=prediction,
        prediction_value=value,
        latency_ms=latency_ms,
        created_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
    )


def test_same_distribution_rarely_drifts_and_never_alerts(settings: Settings) -> None:
    """Twenty fresh samples of the training distribution: features cross p < 0.05 about as
    often as chance allows, and the share rule does not fire."""
    reference = churn_frame(2000, seed=1)
    results = [
        detect_drift(reference, churn_frame(800, seed=seed), SPEC, settings)
        for seed in range(100, 120)
    ]
    tests = [f for r in results for f in r.features]
    assert len(tests) == 20 * len(SPEC.feature_names)
    assert sum(f.drifted for f in tests) / len(tests) <= 0.1
    assert [drift_alert(r, settings) for r in results] == [None] * 20


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_shifted_distribution_gives_a_drift_alert(settings: Settings, seed: int) -> None:
    result = detect_drift(
        churn_frame(2000, seed=1),
        churn_frame(800, seed=seed, shift=1.0),
        SPEC,
        settings,
    )
    assert {f.name for f in result.drifted} >= {"age", "charges", "calls", "plan"}
    shifted = [f for f in result.features if f.name in {"age", "charges", "calls", "plan"}]
    assert all(f.score < 1e-6 and f.measure == "p-value" for f in shifted)
    alert = drift_alert(result, settings)
    assert alert is not None
    assert alert.value >= 0.8
    assert "features drifted (p < 0.05): age, charges, calls, plan" in alert.message


def test_unshifted_features_are_not_flagged_at_5000_rows(settings: Settings) -> None:
    """Thousands of rows: distances (Wasserstein, Jensen-Shannon) replace p-values, so the
    features that did not move are not reported, and the ones that did still are."""
    current = churn_frame(5000, seed=31, shift=1.0)
    unshifted = churn_frame(5000, seed=32)
    current["region"] = unshifted["region"]
    result = detect_drift(churn_frame(5000, seed=1), current, SPEC, settings)
    assert result.rule.measure == "distance"
    assert {f.method for f in result.features} == {"wasserstein", "jensenshannon"}
    assert {f.name for f in result.drifted} == {"age", "charges", "calls", "plan"}
    calm = detect_drift(churn_frame(5000, seed=1), unshifted, SPEC, settings)
    assert calm.drifted == ()
    assert all(f.score < settings.drift_distance_threshold / 2 for f in calm.features)
    assert drift_alert(calm, settings) is None


def test_p_value_tests_alone_would_flag_unshifted_features_at_scale(settings: Settings) -> None:
    """Why the size-aware rule: the same unshifted-but-slightly-different data, tested with
    p-values at 5,000 rows, flags features that a person would not call drifted."""
    reference = churn_frame(5000, seed=1)
    nudged = churn_frame(5000, seed=33)
    # Plan shares 50/30/20 become 46/31/23: a few points, not a change worth a retrain.
    rng = np.random.default_rng(34)
    nudged["plan"] = rng.choice(["basic", "plus", "pro"], 5000, p=[0.46, 0.31, 0.23])
    strict = settings.model_copy(update={"drift_distance_min_rows": 100_000})
    assert "plan" in {f.name for f in detect_drift(reference, nudged, SPEC, strict).drifted}
    assert "plan" not in {f.name for f in detect_drift(reference, nudged, SPEC, settings).drifted}


def test_drift_needs_enough_rows_and_skips_empty_columns(settings: Settings) -> None:
    current = churn_frame(50, seed=3, shift=2.0)
    current["region"] = None
    result = detect_drift(churn_frame(2000, seed=1), current, SPEC, settings)
    assert result.skipped == ()
    assert "region" in {f.name for f in result.features}
    assert drift_alert(result, settings) is None, "50 rows is below MLSTACK_MONITOR_MIN_ROWS"
    missing = churn_frame(200, seed=3).drop(columns=["charges"])
    result = detect_drift(churn_frame(2000, seed=1), missing, SPEC, settings)
    assert result.skipped == ("charges",)


def test_latency_percentiles_from_the_sql_histogram(settings: Settings) -> None:
    store_with(settings, [record(1, latency_ms=float(ms)) for ms in range(1, 1001)])
    summary = StoreReader(settings.store_url).latency(Monitor.since(60))
    assert summary.count == 1000
    assert summary.mean_ms == pytest.approx(500.5)
    assert summary.p50_ms == 500.0
    assert summary.p95_ms == 950.0
    assert summary.p99_ms == 990.0
    alert = latency_alert(summary, settings)
    assert alert is not None
    assert alert.message == "p99 latency 990.0 ms is above 500 ms"


def test_fast_service_gives_no_latency_alert(settings: Settings) -> None:
    store_with(settings, [record(1, latency_ms=3.25 + (i % 7)) for i in range(500)])
    summary = StoreReader(settings.store_url).latency(Monitor.since(60))
    assert summary.p50_ms == pytest.approx(6.2)
    assert summary.p99_ms == pytest.approx(9.2)
    assert latency_alert(summary, settings) is None


def test_window_traffic_buckets_labels_and_versions(settings: Settings) -> None:
    now = datetime.now(UTC).replace(second=30, microsecond=0) - timedelta(minutes=1)
    rows = [
        PredictionRecord(
            model_version=v,
            inputs={},
            prediction=p,
            latency_ms=5.0,
            created_at=now - timedelta(minutes=m),
        )
        for m, v, p in [
            (0, "2", "yes"),
            (0, "2", "no"),
            (2, "1", "no"),
            (2, "1", "no"),
            (2, "1", "yes"),
            (90, "1", "no"),
        ]
    ]
    store_with(settings, rows)
    reader = StoreReader(settings.store_url)
    since = datetime.now(UTC) - timedelta(minutes=60)
    totals = reader.totals(since)
    assert (totals.predictions, totals.all_predictions) == (5, 6)
    assert [(b.requests, b.start.minute) for b in reader.traffic(since, 60)] == [
        (3, (now - timedelta(minutes=2)).minute),
        (2, now.minute),
    ]
    assert reader.label_counts(since) == [("no", 3), ("yes", 2)]
    assert reader.versions(since) == [("1", 3), ("2", 2)]
    assert len(reader.recent_inputs(since, limit=4)) == 4


def test_value_histogram_for_regressors(settings: Settings) -> None:
    store_with(settings, [record(1, value=float(v)) for v in range(100)])
    bins = StoreReader(settings.store_url).value_histogram(Monitor.since(60), bins=10)
    assert len(bins) == 10
    assert [c for _, _, c in bins] == [10] * 10
    assert bins[0][0] == 0.0
    assert bins[-1][1] == pytest.approx(99.0)


def test_live_accuracy_and_quality_alert(champion: Champion) -> None:
    frame = churn_frame(200, seed=5)
    predicted = pd.Series(champion.model.predict(frame[SPEC.feature_names]))
    wrong = predicted.map({"yes": "no", "no": "yes"})
    truth = pd.concat([predicted.iloc[:100], wrong.iloc[100:]], ignore_index=True)
    champion.write(frame, feedback_share=1.0, truth=truth)
    monitor = Monitor(champion.settings)
    summary = monitor.quality(monitor.quality_buckets(60), monitor.champion())
    assert summary is not None
    assert summary.labelled == 200
    assert summary.live == pytest.approx(0.5)
    assert summary.reference == pytest.approx(champion.accuracy)
    alert = quality_alert(summary, champion.settings)
    assert alert is not None
    assert alert.value == pytest.approx(champion.accuracy - 0.5)


def test_quality_rules_need_evidence_and_handle_regression(settings: Settings) -> None:
    few = QualitySummary(metric="accuracy", live=0.1, reference=0.9, labelled=5)
    assert quality_alert(few, settings) is None
    close = QualitySummary(metric="accuracy", live=0.85, reference=0.9, labelled=500)
    assert quality_alert(close, settings) is None
    worse = QualitySummary(metric="mae", live=12.0, reference=10.0, labelled=500)
    alert = quality_alert(worse, settings)
    assert alert is not None
    assert alert.threshold == pytest.approx(1.0)
    assert quality_alert(worse.model_copy(update={"live": 10.5}), settings) is None


def test_report_with_healthy_and_drifted_traffic(champion: Champion) -> None:
    champion.write(churn_frame(300, seed=6), feedback_share=0.5)
    healthy = Monitor(champion.settings).report()
    assert healthy.healthy, healthy.alerts
    assert healthy.champion_version == 1
    assert healthy.totals.predictions == 300
    champion.write(churn_frame(600, seed=7, shift=1.5))
    drifted = Monitor(champion.settings).report()
    assert [a.rule for a in drifted.alerts] == ["drift"]
    payload = drifted.to_dict()
    assert payload["status"] == "alert"
    assert set(payload["drift"]["drifted"]) >= {"age", "charges", "plan"}


def test_report_without_registry_still_counts_traffic(
    champion: Champion, monkeypatch: pytest.MonkeyPatch
) -> None:
    champion.write(churn_frame(120, seed=6))
    monkeypatch.setenv("MLSTACK_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    from mlstack_core.settings import load_settings

    report = Monitor(load_settings()).report()
    assert report.champion_version is None
    assert report.champion_problem is not None
    assert "unreachable" in report.champion_problem
    assert report.totals.predictions == 120
    assert report.drift is None


def test_bucket_width_keeps_charts_small() -> None:
    assert bucket_seconds(60) == 60
    assert bucket_seconds(1440) == 900
    assert bucket_seconds(10080) == 3600
    assert bucket_seconds(60 * 24 * 30) == 3 * 3600
    for minutes in (1, 15, 60, 360, 1440, 10080, 100000):
        assert minutes * 60 / bucket_seconds(minutes) <= 240


def test_buckets_follow_the_span_of_the_data() -> None:
    """Seconds for a burst, minutes for an hour, an hour or so for a day."""
    assert span_bucket_seconds(6) == 1
    assert span_bucket_seconds(90) == 2
    assert span_bucket_seconds(3600) == 60
    assert span_bucket_seconds(86400) == 1800
    for span in (0, 5, 59, 600, 3600, 86400, 7 * 86400):
        assert span / span_bucket_seconds(span) <= 60


def test_latency_summary_of_nothing_is_zero() -> None:
    empty = LatencySummary.from_histogram([], 0.0)
    assert (empty.count, empty.p99_ms, empty.mean_ms) == (0, 0.0, 0.0)
    assert np.isfinite(empty.p50_ms)


def test_drift_is_recomputed_only_when_new_requests_arrive(champion: Champion) -> None:
    champion.write(churn_frame(150, seed=6))
    monitor = Monitor(champion.settings)
    state = monitor.champion()
    first = monitor.drift(60, state)
    assert first.result is not None
    assert monitor.drift(60, state) is first
    champion.write(churn_frame(150, seed=7, shift=2.0), minutes_ago=1)
    second = monitor.drift(60, state)
    assert second is not first
    assert second.result is not None
    assert second.result.current_rows == 300
    assert len(second.result.drifted) > len(first.result.drifted)
