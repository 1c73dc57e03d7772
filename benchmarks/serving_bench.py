"""Serving benchmark: the mlstack Bento against `mlflow models serve` and a bare Starlette floor.

Three servers on 127.0.0.1, in their own process groups, one at a time, one worker each
(MLflow's default): the champion's Bento with prediction logging on (a fresh SQLite store in
a temporary folder), `mlflow models serve` of the same champion, and a bare Starlette JSON
endpoint (`starlette_floor.py`: no model, no validation, no store) as the floor any Python
service stands on. wrk drives single-record POSTs at 32 and at 4 connections, after a warm-up.
Prints a table and one JSON line. Not a test: run it with `invoke bench`.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from summary import emit

from mlstack_core.endpoints import API_READY_PATH, PREDICT_PATH
from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import load_settings
from mlstack_core.store import PredictionStore
from mlstack_core.testing.servers import VENV_BIN, clean_up_on_sigterm, free_port, running, venv_env

FLOOR = Path(__file__).with_name("starlette_floor.py")
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = {body}
"""
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass(frozen=True)
class Result:
    server: str
    connections: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    timeouts: int


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"cannot parse wrk latency {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    socket_errors = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not (requests and rps and latency):
        raise SystemExit(f"cannot read wrk output:\n{out}")
    io_errors = sum(int(g) for g in socket_errors.groups()[:3]) if socket_errors else 0
    return {
        "requests": int(requests.group(1)),
        "rps": float(rps.group(1)),
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "errors": (int(non_2xx.group(1)) if non_2xx else 0) + io_errors,
        "timeouts": int(socket_errors.group(4)) if socket_errors else 0,
    }


def measure(name: str, url: str, script: Path, loads: list[int], seconds: int) -> list[Result]:
    results = []
    for connections in loads:
        wrk(url, script, connections, 3)  # warm-up: BentoML's batcher calibrates itself
        stats = wrk(url, script, connections, seconds)
        results.append(Result(server=name, connections=connections, **stats))
        print(f"  {name:8} c={connections:<3} {stats['rps']:8.1f} req/s", file=sys.stderr)
    return results


def sample_record(registry: ModelRegistry) -> dict[str, Any]:
    """One held-out row of the champion's training run, without its target."""
    champion = registry.require_champion()
    spec = registry.spec(champion)
    row = registry.holdout(champion)[0]
    return {
        k: (None if isinstance(v, float) and math.isnan(v) else v)
        for k, v in row.items()
        if k in spec.feature_names
    }


def table(results: list[Result]) -> str:
    lines = [
        f"{'server':10} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}",
    ]
    for r in results:
        lines.append(
            f"{r.server:10} {r.connections:>5} {r.rps:>9.1f} {r.p50_ms:>8.1f} "
            f"{r.p99_ms:>8.1f} {r.errors + r.timeouts:>7}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, nargs="+", default=[32, 4])
    parser.add_argument("--save", type=Path, help="Also write the JSON summary to this file.")
    args = parser.parse_args()
    clean_up_on_sigterm()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    settings = load_settings()
    registry = ModelRegistry(settings)
    if registry.champion() is None:
        print("no champion yet: training one on the seed sample (as `invoke up` would)")
        subprocess.run([str(VENV_BIN / "mlstack-train"), "train", "--seed-sample"], check=True)
    champion = registry.require_champion()
    record = sample_record(registry)
    subprocess.run([str(VENV_BIN / "mlstack-serve"), "build"], check=True)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="mlstack-bench-") as tmp:
        folder = Path(tmp)
        store_url = f"sqlite:///{folder / 'predictions.db'}"
        base_env = venv_env()

        port = free_port()
        script = folder / "mlstack.lua"
        script.write_text(LUA.format(body=json.dumps(json.dumps({"records": [record]}))))
        env = {
            **base_env,
            "MLSTACK_API_HOST": "127.0.0.1",
            "MLSTACK_API_PORT": str(port),
            "MLSTACK_PREDICTION_STORE_URL": store_url,
        }
        base = f"http://127.0.0.1:{port}"
        ready = f"{base}{API_READY_PATH}"
        with running(["mlstack-serve", "serve"], ready, env=env, log=folder / "a.log"):
            results += measure(
                "mlstack", f"{base}{PREDICT_PATH}", script, args.connections, args.seconds
            )
        logged = PredictionStore(store_url).count()

        port = free_port()
        script = folder / "mlflow.lua"
        script.write_text(LUA.format(body=json.dumps(json.dumps({"dataframe_records": [record]}))))
        env = {**base_env, "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri}
        command = [
            "mlflow", "models", "serve",
            "-m", f"models:/{settings.model_name}@champion",
            "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port),
        ]  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        with running(command, f"{base}/ping", env=env, log=folder / "b.log"):
            results += measure(
                "mlflow", f"{base}/invocations", script, args.connections, args.seconds
            )

        port = free_port()
        script = folder / "floor.lua"
        script.write_text(LUA.format(body=json.dumps(json.dumps({"records": [record]}))))
        base = f"http://127.0.0.1:{port}"
        command = [sys.executable, str(FLOOR), str(port)]
        with running(command, f"{base}{API_READY_PATH}", env=env, log=folder / "c.log"):
            results += measure(
                "starlette", f"{base}/predict", script, args.connections, args.seconds
            )

    print(f"\nmodel {settings.model_name} v{champion.version}, {args.seconds} s per load, wrk")
    print(table(results))
    by = {(r.server, r.connections): r for r in results}
    summary: dict[str, Any] = {"results": [asdict(r) for r in results], "logged": logged}
    answered = sum(r.requests - r.errors for r in results if r.server == "mlstack")
    for c in args.connections:
        ours, peer, floor = by[("mlstack", c)], by[("mlflow", c)], by[("starlette", c)]
        summary[f"ratio_rps_c{c}"] = round(ours.rps / peer.rps, 2) if peer.rps else None
        summary[f"floor_share_c{c}"] = round(ours.rps / floor.rps, 3) if floor.rps else None
        print(
            f"c={c}: mlstack/mlflow req/s {summary[f'ratio_rps_c{c}']}x, "
            f"{100 * (summary[f'floor_share_c{c}'] or 0):.0f}% of bare Starlette, "
            f"p99 {ours.p99_ms:.1f} vs {peer.p99_ms:.1f} ms (Starlette {floor.p99_ms:.1f} ms)"
        )
    print(f"predictions logged by mlstack: {logged} (answered 2xx in the timed runs: {answered})")
    emit(summary, args.save)


if __name__ == "__main__":
    main()
