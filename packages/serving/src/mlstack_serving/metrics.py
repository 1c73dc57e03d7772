"""Prometheus metrics of the service, next to BentoML's own on `/metrics`.

Defined once per process at import: prometheus refuses a second registration of a name.
"""

from __future__ import annotations

import bentoml

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

predictions_total = bentoml.metrics.Counter(
    name="mlstack_predictions_total",
    documentation="Predictions answered (and logged), by model version",
    labelnames=["model_version"],
)
prediction_latency = bentoml.metrics.Histogram(
    name="mlstack_prediction_latency_seconds",
    documentation="Time the pipeline takes per adaptive batch",
    labelnames=["model_version"],
    buckets=LATENCY_BUCKETS,
)
store_write_latency = bentoml.metrics.Histogram(
    name="mlstack_store_write_latency_seconds",
    documentation="Time to commit one batch of predictions to the prediction store",
    buckets=LATENCY_BUCKETS,
)
batch_size = bentoml.metrics.Histogram(
    name="mlstack_batch_records",
    documentation="Records per adaptive batch",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
