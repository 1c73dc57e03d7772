"""Start-up benchmark: `uv run invoke up` in a fresh clone, cold and then warm, as a new user.

Cold: a fresh `git clone` of this repository's HEAD, an empty uv cache, no environment, no
model, no Bento: uv installs the stack, `up` trains the seed sample, builds the Bento and
starts the three services. Warm: `up` again in the same clone (environment, champion and Bento
present). The environment is a normal one: Python writes its bytecode caches, no
`UV_COMPILE_BYTECODE`, no `MLSTACK_*` settings but free ports. Timed from the command's start
to the first 200 of POST /predict with the example request `up` writes, and to every service
healthy. `pip install uv` is not timed (uv is already installed here). Prints a table and one
JSON line. Not a test: run it with `invoke bench`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from summary import emit

from mlstack_core.endpoints import (
    API_READY_PATH,
    DASHBOARD_HEALTH_PATH,
    MLFLOW_HEALTH_PATH,
    PREDICT_PATH,
)
from mlstack_core.processes import stop_group
from mlstack_core.testing.browser import DEFAULT_CHROMIUM, headless_chromium
from mlstack_core.testing.servers import clean_up_on_sigterm, free_port

ROOT = Path(__file__).resolve().parents[1]
DROPPED = (
    "MLSTACK_",
    "BENTOML_",
    "MLFLOW_",
    "VIRTUAL_ENV",
    "PYTHONDONTWRITEBYTECODE",
    "UV_COMPILE_BYTECODE",
    "UV_CACHE_DIR",
    "UV_PROJECT_ENVIRONMENT",
)


@dataclass(frozen=True)
class Start:
    kind: str
    first_prediction_s: float | None
    all_healthy_s: float | None
    first_render_s: float | None


def _ok(url: str, body: bytes | None = None) -> bool:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def environment(clone: Path, cache: Path) -> tuple[dict[str, str], dict[str, int]]:
    ports = {"api": free_port(), "mlflow": free_port(), "dashboard": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED)}
    env.update(
        {
            "UV_CACHE_DIR": str(cache),
            "MLSTACK_API_PORT": str(ports["api"]),
            "MLSTACK_MLFLOW_PORT": str(ports["mlflow"]),
            "MLSTACK_DASHBOARD_PORT": str(ports["dashboard"]),
        }
    )
    return env, ports


class FirstSuccess(threading.Thread):
    """Polls one URL on its own until it first answers 200; the seconds since `began`.

    One poller per URL: a request that waits for a worker still starting must not delay the
    polls of the other services (sequential polls added up to two seconds to a run)."""

    def __init__(self, url: str, began: float, body: Path | None = None) -> None:
        super().__init__(daemon=True)
        self.url, self.began, self.body = url, began, body
        self.seconds: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        """POST `body` once that file exists (`up` writes it); without one, GET."""
        while not self.stop.is_set():
            ready = self.body is None or self.body.is_file()
            if ready and _ok(self.url, self.body.read_bytes() if self.body else None):
                self.seconds = time.monotonic() - self.began
                return
            time.sleep(0.05)


def first_render(url: str, chromium: str, profile: Path) -> float | None:
    """Seconds from opening the dashboard in a headless browser to the Overview naming the
    champion: the first script run of a fresh Streamlit server, as a user's first visit."""
    from playwright.sync_api import Error, expect

    with headless_chromium(chromium, profile) as browser:
        page = browser.new_page()
        began = time.monotonic()
        page.goto(url, wait_until="domcontentloaded")
        champion = page.get_by_test_id("stMetric").filter(has_text="Champion")
        try:
            expect(champion.get_by_test_id("stMetricValue")).to_have_text(
                re.compile(r"^v\d+"), timeout=60_000
            )
        except (AssertionError, Error) as exc:
            print(f"the dashboard did not show the champion: {exc}", file=sys.stderr)
            return None
        return time.monotonic() - began


def start(kind: str, clone: Path, cache: Path, timeout: float, chromium: str) -> Start:
    """One `uv run invoke up`, stopped with Ctrl-C (SIGINT) once everything is healthy and the
    dashboard's first page has rendered."""
    env, ports = environment(clone, cache)
    base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    health = [
        f"{base['api']}{API_READY_PATH}",
        f"{base['mlflow']}{MLFLOW_HEALTH_PATH}",
        f"{base['dashboard']}{DASHBOARD_HEALTH_PATH}",
    ]
    example = clone / ".mlstack" / "example-request.json"
    log = (clone / f"up-{kind}.log").open("wb")
    began = time.monotonic()
    process = subprocess.Popen(
        [str(shutil.which("uv")), "run", "invoke", "up"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    predict = FirstSuccess(f"{base['api']}{PREDICT_PATH}", began, example)
    pollers = [predict, *(FirstSuccess(url, began) for url in health)]
    for poller in pollers:
        poller.start()
    rendered = None
    try:
        while time.monotonic() - began < timeout and process.poll() is None:
            if all(poller.seconds is not None for poller in pollers):
                rendered = first_render(base["dashboard"], chromium, clone / f"chromium-{kind}")
                break
            time.sleep(0.1)
    finally:
        for poller in pollers:
            poller.stop.set()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: `up` stops what it started
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                stop_group(process.pid, timeout=20)
        # Whatever `up` left running (a service still stopping) must not greet the next run.
        subprocess.run(
            [str(shutil.which("uv")), "run", "invoke", "down"],
            cwd=clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=120,
        )
        log.close()
    first = predict.seconds
    ready = [poller.seconds for poller in pollers[1:]]
    healthy = None if None in ready else max(s for s in ready if s is not None)
    if first is None or healthy is None:
        tail = (clone / f"up-{kind}.log").read_text(errors="replace")[-2000:]
        print(f"{kind}: not every step finished in {timeout:.0f} s:\n{tail}", file=sys.stderr)
    return Start(kind, first, healthy, rendered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--save", type=Path, help="Also write the JSON summary to this file.")
    parser.add_argument(
        "--chromium", default=DEFAULT_CHROMIUM, help="Browser for the first render."
    )
    args = parser.parse_args()
    clean_up_on_sigterm()
    if shutil.which("uv") is None:
        raise SystemExit("uv is not on PATH: pip install uv")
    with tempfile.TemporaryDirectory(prefix="mlstack-startup-bench-") as tmp:
        clone = Path(tmp) / "mlstack"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        cache = Path(tmp) / "uv-cache"
        results = [
            start(kind, clone, cache, args.timeout, args.chromium) for kind in ("cold", "warm")
        ]

    def seconds(value: float | None) -> str:
        return f"{value:.1f}" if value is not None else "-"

    print(f"\nstart-up in a fresh clone of {ROOT.name} (HEAD), normal environment, 1 run each")
    print(f"{'run':6} {'first prediction s':>19} {'all healthy s':>14} {'first render s':>15}")
    for r in results:
        print(
            f"{r.kind:6} {seconds(r.first_prediction_s):>19} {seconds(r.all_healthy_s):>14}"
            f" {seconds(r.first_render_s):>15}"
        )
    summary = {"benchmark": "startup", "results": [asdict(r) for r in results]}
    emit(summary, args.save)


if __name__ == "__main__":
    main()
