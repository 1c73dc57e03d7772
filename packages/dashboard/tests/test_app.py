"""Every page under `streamlit.testing.v1.AppTest`: empty, with data, with drift and alerts."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import Champion, churn_frame
from streamlit.testing.v1 import AppTest

from mlstack_core.settings import Settings
from mlstack_core.testing.servers import free_port
from mlstack_dashboard.app import MAIN, VIEWS

PAGES = ("overview", "models", "traffic", "drift", "quality")
TRAFFIC_HINT = "run `uv run invoke simulate-traffic`"
TRAIN_HINT = "run `uv run invoke train --seed-sample`"


def render(page: str) -> AppTest:
    app = AppTest.from_file(str(VIEWS / f"{page}.py"), default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    return app


def texts(app: AppTest) -> str:
    """Every message, markdown, caption and metric of the page, as one string."""
    kinds = ("error", "warning", "info", "success")
    parts = [e.value for kind in kinds for e in getattr(app, kind)]
    parts += [m.value for m in app.markdown] + [c.value for c in app.caption]
    parts += [f"{m.label}: {m.value}" for m in app.metric]
    return "\n".join(str(p) for p in parts)


def alerts(app: AppTest) -> list[str]:
    return [str(e.value) for e in app.error if "ALERT" in str(e.value)]


def plotly_charts(app: AppTest) -> int:
    return len(app.get("plotly_chart"))


@pytest.mark.parametrize("page", PAGES)
def test_empty_pages_say_what_to_run(settings: Settings, page: str) -> None:
    app = render(page)
    expected = {
        "overview": [TRAIN_HINT, f"No predictions yet: {TRAFFIC_HINT}"],
        "models": [f"No model versions of 'mlstack' yet: {TRAIN_HINT}"],
        "traffic": [f"No predictions in the last 60 minutes: {TRAFFIC_HINT}"],
        "drift": [f"Drift not checked: no champion model 'mlstack': {TRAIN_HINT}"],
        "quality": [f"Quality needs a champion: no champion model 'mlstack': {TRAIN_HINT}"],
    }[page]
    shown = texts(app)
    for message in expected:
        assert message in shown
    assert not alerts(app)


def test_pages_with_a_champion_and_no_traffic(champion: Champion) -> None:
    overview = render("overview")
    assert "Champion: v1" in texts(overview)
    assert f"No predictions yet: {TRAFFIC_HINT}" in texts(overview)
    drift = render("drift")
    assert (
        f"0 predictions in the last 60 minutes; drift needs at least 100: {TRAFFIC_HINT}"
        in texts(drift)
    )
    quality = render("quality")
    assert f"No feedback in the last 60 minutes: {TRAFFIC_HINT}" in texts(quality)


def test_pages_with_healthy_traffic(champion: Champion) -> None:
    champion.write(churn_frame(400, seed=7), feedback_share=0.5, latency_ms=8.0)

    overview = render("overview")
    shown = texts(overview)
    assert "Champion: v1" in shown
    assert "Predictions (60 min): 400" in shown
    assert "Feedback: 200" in shown
    assert "No active alerts" in shown
    assert not alerts(overview)

    models = render("models")
    versions = models.dataframe[0].value
    assert list(versions["version"]) == [1]
    assert versions["aliases"].iloc[0] == "champion"
    origins = models.dataframe[1].value
    assert origins[["version", "trained on"]].iloc[0].tolist() == [1, "not recorded"]
    history = models.dataframe[2].value
    assert history[["action", "version", "reason"]].iloc[0].tolist() == [
        "promote",
        1,
        "registered by the test",
    ]
    assert plotly_charts(models) == 1

    traffic = render("traffic")
    assert "p99 latency: 8.0 ms" in texts(traffic)
    assert plotly_charts(traffic) == 4
    assert traffic.dataframe[0].value.to_dict("records") == [
        {"model version": "1", "predictions": 400}
    ]

    drift = render("drift")
    assert not alerts(drift)
    table = drift.dataframe[0].value
    assert set(table["feature"]) == {"age", "charges", "calls", "plan", "region"}
    assert plotly_charts(drift) == 5

    quality = render("quality")
    assert not alerts(quality)
    assert "Labelled predictions: 200" in texts(quality)
    assert plotly_charts(quality) == 2


def test_drift_raises_an_alert_on_overview_and_drift_pages(champion: Champion) -> None:
    champion.write(churn_frame(400, seed=8, shift=1.5), feedback_share=0.0)

    overview = render("overview")
    assert any(a.startswith("ALERT drift:") for a in alerts(overview))

    drift = render("drift")
    (alert,) = alerts(drift)
    assert alert.startswith("ALERT drift: ")
    for feature in ("age", "charges", "calls", "plan"):
        assert feature in alert
    table = drift.dataframe[0].value.set_index("feature")
    assert bool(table.loc["age", "drifted"])
    assert not bool(table.loc["region", "drifted"])


def test_wrong_predictions_raise_a_quality_alert(champion: Champion) -> None:
    frame = churn_frame(300, seed=9)
    flipped = pd.Series(champion.model.predict(frame)).map({"yes": "no", "no": "yes"})
    champion.write(frame, feedback_share=1.0, truth=flipped)

    quality = render("quality")
    (alert,) = alerts(quality)
    assert alert.startswith("ALERT quality: live accuracy 0.000 on 300 labelled predictions")
    assert any(a.startswith("ALERT quality") for a in alerts(render("overview")))


def test_unreachable_registry_and_api_are_reported_not_raised(
    champion: Champion, monkeypatch: pytest.MonkeyPatch
) -> None:
    champion.write(churn_frame(150, seed=10))
    monkeypatch.setenv("MLSTACK_TRACKING_URI", f"http://127.0.0.1:{free_port()}")

    overview = render("overview")
    shown = texts(overview)
    assert "Champion: none" in shown
    assert "MLflow registry at http://127.0.0.1:" in shown
    assert "is unreachable" in shown
    assert "API: down" in shown
    assert "start it with `uv run invoke up`" in shown
    assert "Predictions (60 min): 150" in shown

    models = render("models")
    assert "is unreachable" in texts(models)
    traffic = render("traffic")
    assert "Predictions (60 min): 150" in texts(traffic)
    assert "Drift not checked: MLflow registry at" in texts(render("drift"))


def test_main_app_opens_on_the_overview(champion: Champion) -> None:
    app = AppTest.from_file(str(MAIN), default_timeout=60)
    app.run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Overview"]
    assert "Champion: v1" in texts(app)
