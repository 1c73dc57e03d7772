"""`mlstack-monitor check --retrain`: an alert that a retrain can answer starts one.

A drift or quality alert runs `mlstack-train retrain` as a process (the dashboard never imports
training); its outcome (promoted or not and why, or why it was skipped) goes into the report's
JSON and the webhook payload. A latency alert is not a reason to retrain.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from mlstack_core.errors import DataError
from mlstack_core.processes import console_script
from mlstack_core.settings import Settings
from mlstack_dashboard.monitoring import MonitoringReport

TRIGGERS = ("drift", "quality")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return next((ln for ln in lines if ln.startswith("error:")), lines[-1] if lines else "")


def retrain_on_alert(report: MonitoringReport, settings: Settings) -> dict[str, Any]:
    """Run a retrain when a drift or quality alert fired; what happened, JSON-ready."""
    triggers = [alert.rule for alert in report.alerts if alert.rule in TRIGGERS]
    if not triggers:
        return {"status": "not needed", "detail": "no drift or quality alert fired"}
    try:
        done = subprocess.run(
            [console_script("mlstack-train"), "retrain", "--json"],
            capture_output=True,
            text=True,
            check=False,
            env=settings.child_env(),
        )
    except OSError as exc:
        return {
            "status": "failed",
            "triggered_by": triggers,
            "detail": f"error: cannot run mlstack-train ({exc.strerror}): install mlstack-training",
        }
    if done.returncode == 0:
        outcome: dict[str, Any] = json.loads(done.stdout)
        status = "promoted" if outcome.get("promoted") else "not promoted"
        return {"status": status, "triggered_by": triggers, **outcome}
    status = "skipped" if done.returncode == DataError.exit_code else "failed"
    return {
        "status": status,
        "triggered_by": triggers,
        "exit_code": done.returncode,
        "detail": _last_line(done.stderr) or f"exit code {done.returncode}",
    }
