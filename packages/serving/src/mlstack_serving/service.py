"""The BentoML service: typed `/predict` with adaptive batching, `/feedback`, `/metadata`.

The request types are generated at import from the contract of the model being served (the
model tag comes from the Bento's arguments; from source, the champion is imported first). A
prediction is answered only after its batch is committed to the prediction store, so every
200 is logged.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import bentoml
from bentoml.validators import ContentType
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mlstack_core.endpoints import METADATA_PATH
from mlstack_core.errors import StoreUnavailableError
from mlstack_core.settings import load_settings
from mlstack_core.store import PredictionRecord, PredictionStore
from mlstack_serving import metrics
from mlstack_serving.batching import GreedyBatcher
from mlstack_serving.fastpath import FastPredict, PredictRoute, RouteSlot
from mlstack_serving.guard import RequestGuard
from mlstack_serving.inference import InferenceChoice
from mlstack_serving.model import MLFLOW_FOLDER, PIPELINE, ModelCard, ServedModel
from mlstack_serving.readiness import (
    RETRY_AFTER_SECONDS,
    ReadinessGate,
    StoreHealth,
    unavailable_response,
)
from mlstack_serving.schema import (
    FeedbackResult,
    ModelMetadata,
    PredictionOut,
    actual_type,
    record_type,
)
from mlstack_serving.timer_fix import cancel_request_timers

SETTINGS = load_settings()
cancel_request_timers()
STORE = PredictionStore(SETTINGS.store_url)
STORE_HEALTH = StoreHealth(STORE)
FAST_PREDICT = RouteSlot()
ARGUMENTS = bentoml.use_arguments()


def _model_tag() -> str:
    """The tag this process serves: the Bento's argument, else the registry's champion."""
    tag = getattr(ARGUMENTS, "model_tag", None)
    if tag:
        return str(tag)
    from mlstack_serving.build import ModelImporter  # from source only: it imports MLflow

    return ModelImporter(SETTINGS).ensure_champion()


def _inference(tag: str) -> InferenceChoice:
    """The path the build chose; from source (no Bento), checked now against the registry."""
    path = getattr(ARGUMENTS, "inference", None)
    if path:
        return InferenceChoice(str(path), str(getattr(ARGUMENTS, "inference_reason", "")))
    if getattr(ARGUMENTS, "model_tag", None):
        return InferenceChoice(PIPELINE, "the Bento predates the inference check: rebuild it")
    from mlstack_serving.build import ModelImporter

    importer = ModelImporter(SETTINGS)
    return importer.inference(importer.registry.require_champion(), tag)


CARD = ModelCard.from_store(_model_tag())
CHOICE = _inference(CARD.tag)
Record = record_type(CARD.spec)
Records = Annotated[list[Record], Field(min_length=1, max_length=SETTINGS.max_records)]  # type: ignore[valid-type]
Actual = actual_type(CARD.spec)
# A declared media type: without it BentoML regenerates the list's JSON schema on every
# response to find one (half of the event loop's time under load, measured with py-spy).
Predictions = Annotated[list[PredictionOut], ContentType("application/json")]
METADATA = ModelMetadata(
    name=CARD.name,
    version=CARD.version,
    run_id=CARD.run_id,
    trained_at=CARD.trained_at,
    task=CARD.spec.task,
    classes=list(CARD.spec.classes),
    metrics=CARD.metrics,
    bento_model=CARD.tag,
    inference=CHOICE.path,
    inference_reason=CHOICE.reason,
    max_records=SETTINGS.max_records,
    input_schema=Record.model_json_schema(),
).model_dump(mode="json")


class MlstackService:
    """Serves one model version; its API is typed from that version's contract."""

    bento_model = bentoml.models.BentoModel(CARD.tag)

    def __init__(self) -> None:
        self.version = CARD.version
        self.model = ServedModel(
            Path(self.bento_model.path_of(MLFLOW_FOLDER)), CARD.spec, inference=CHOICE.path
        )
        if self.model.inference != CHOICE.path:  # the warning said why; /metadata tells it
            METADATA["inference"] = self.model.inference
            METADATA["inference_reason"] = "the numpy path could not be made at start-up"
        self.store = STORE
        self.store.migrate()
        self.batcher = GreedyBatcher(self._predict_batch, max_items=SETTINGS.max_records)
        api = Mlstack.apis["predict"]
        FAST_PREDICT.route = PredictRoute(
            input_model=api.input_spec,
            output_model=api.output_spec,
            submit=self.batcher.submit,
            server_header=f"BentoML Service/{Mlstack.name}".encode(),
        )
        # Move everything loaded so far (mlflow, sklearn, pandas, the model) out of the
        # collector's sight: a full collection then scans only what requests allocate.
        gc.collect()
        gc.freeze()

    @bentoml.api  # type: ignore[untyped-decorator]
    async def predict(self, records: Records) -> Predictions:
        """Predict every record; the answer comes after its whole batch is committed."""
        try:
            return await self.batcher.submit(records)
        except StoreUnavailableError as exc:
            # BentoML sends a Response returned by an API as it is (its error path would hide
            # the cause behind "unexpected error" and a 500-class status without Retry-After).
            return unavailable_response(exc)  # type: ignore[return-value]

    def _predict_batch(self, rows: list[BaseModel]) -> list[PredictionOut]:
        """One adaptive batch (several requests): predict, commit to the store, answer."""
        started = time.perf_counter()
        outputs = self.model.predict(rows)
        model_seconds = time.perf_counter() - started
        logged = [
            PredictionRecord(
                model_version=self.version,
                inputs=row.model_dump(by_alias=True),
                prediction=str(out.prediction),
                prediction_value=out.prediction_value,
                probabilities=out.probabilities,
                latency_ms=model_seconds * 1000,
            )
            for row, out in zip(rows, outputs, strict=True)
        ]
        written = time.perf_counter()
        try:
            self.store.write(logged)
        except StoreUnavailableError as exc:
            STORE_HEALTH.record(exc)
            raise
        STORE_HEALTH.record(None)
        metrics.store_write_latency.observe(time.perf_counter() - written)
        metrics.prediction_latency.labels(model_version=self.version).observe(model_seconds)
        metrics.predictions_total.labels(model_version=self.version).inc(len(logged))
        metrics.batch_size.observe(len(logged))
        return [
            PredictionOut(
                prediction_id=record.id,
                prediction=out.prediction,
                model_version=self.version,
                probabilities=out.probabilities,
            )
            for record, out in zip(logged, outputs, strict=True)
        ]

    @bentoml.api  # type: ignore[untyped-decorator]
    def feedback(self, prediction_id: UUID, actual: Actual, ctx: bentoml.Context) -> FeedbackResult:  # type: ignore[valid-type]
        """Record the ground truth of an earlier prediction; 404 when the id is unknown."""
        value = None if CARD.spec.is_classification else float(actual)
        try:
            recorded = self.store.add_feedback(str(prediction_id), str(actual), value)
        except StoreUnavailableError as exc:
            STORE_HEALTH.record(exc)
            # BentoML applies the context's status and headers to what the API returns.
            ctx.response.status_code = 503
            ctx.response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return unavailable_response(exc)  # type: ignore[return-value]
        if recorded:
            return FeedbackResult(prediction_id=prediction_id, recorded=True)
        ctx.response.status_code = 404
        return FeedbackResult(
            prediction_id=prediction_id,
            recorded=False,
            error=f"unknown prediction_id {prediction_id}: no such prediction in the store",
        )


async def _metadata(_: Request) -> JSONResponse:
    return JSONResponse(METADATA)


def _metadata_app() -> Any:
    return Starlette(routes=[Route(METADATA_PATH, _metadata, methods=["GET"])])


# One worker: batching works per process, and a second worker measured no more throughput on
# two cores but a worse tail (two SQLite writers). The access log is off: every prediction is
# in the store and counted in /metrics, and one log line per request cost 10% of throughput.
# /predict is not traced: with no exporter configured the spans go nowhere, and making them
# took a fifth of the event loop per request once the model is lowered (py-spy under wrk).
Mlstack = bentoml.service(
    name="mlstack",
    workers=1,
    traffic={"timeout": 30},
    logging={"access": {"enabled": False}},
    tracing={"excluded_urls": ["/predict$"]},
)(MlstackService)
Mlstack.mount_asgi_app(_metadata_app(), path="/")
Mlstack.add_asgi_middleware(RequestGuard)
Mlstack.add_asgi_middleware(FastPredict, slot=FAST_PREDICT)
Mlstack.add_asgi_middleware(ReadinessGate, health=STORE_HEALTH)
