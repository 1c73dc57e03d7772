"""How a person or CI runs mlstack: thin invoke tasks over the packages' CLIs and the tools.

Nothing heavy is imported here (`invoke --list` stays fast); each task runs a command.
Run them through uv so the workspace environment is used: `uv run invoke TASK`.
"""

from __future__ import annotations

import shutil
from shlex import quote

from invoke import Context, task


def _opt(flag: str, value: object) -> str:
    return f" {flag} {quote(str(value))}" if value not in (None, False, "") else ""


# A tool only each group installs: on PATH means the group is in this environment.
_GROUP_TOOL = {"dev": "ruff", "docs": "jupytext"}


def _tool(command: str, *groups: str) -> str:
    """`command` from the dependency `groups` that `uv run invoke up` does not install: as it is
    where those groups are already installed (`uv sync --all-groups`, a nox session), else
    through `uv run --group`, which adds them to the workspace environment on first use."""
    if all(shutil.which(_GROUP_TOOL[g]) for g in groups):
        return command
    return "uv run --frozen" + "".join(f" --group {g}" for g in groups) + f" {command}"


@task(
    help={
        "seed_sample": "Train on the bundled seed sample (customer churn).",
        "data": "CSV or Parquet file to train on.",
        "target": "Target column of --data.",
        "task": "binary, multiclass or regression (default: inferred from the target).",
        "spec": "Dataset spec file (YAML/TOML) overriding inferred column kinds.",
        "estimator": "hist_gradient_boosting (default), random_forest or linear.",
    }
)
def train(
    c: Context,
    seed_sample: bool = False,
    data: str | None = None,
    target: str | None = None,
    task: str | None = None,
    spec: str | None = None,
    estimator: str | None = None,
) -> None:
    """Train, log to MLflow, register a version, and run the promotion gate."""
    c.run(
        "mlstack-train train"
        + (" --seed-sample" if seed_sample else "")
        + _opt("--data", data)
        + _opt("--target", target)
        + _opt("--task", task)
        + _opt("--spec", spec)
        + _opt("--estimator", estimator),
        pty=False,
    )


@task(help={"reason": "Why, recorded in the alias history."})
def promote(c: Context, version: int, reason: str = "manual") -> None:
    """Make VERSION the champion (recorded in the alias history)."""
    c.run(f"mlstack-train promote {int(version)}" + _opt("--reason", reason))


@task
def rollback(c: Context) -> None:
    """Give the champion alias back to the previous champion."""
    c.run("mlstack-train rollback")


@task(help={"detach": "Return once every service is healthy (stop with `invoke down`)."})
def up(c: Context, detach: bool = False) -> None:
    """Bootstrap a model if needed, then start MLflow UI, API and dashboard; Ctrl-C stops all."""
    c.run("mlstack up" + (" --detach" if detach else ""), pty=False)


@task
def down(c: Context) -> None:
    """Stop every service started by `invoke up`."""
    c.run("mlstack down")


@task
def status(c: Context) -> None:
    """Each service's URL and health (exit 3 when any is not healthy)."""
    c.run("mlstack status")


@task(help={"service": "mlflow, api or dashboard (default: all)", "lines": "Lines to show."})
def logs(c: Context, service: str | None = None, lines: int = 40) -> None:
    """The end of the services' logs."""
    c.run("mlstack logs" + (f" {quote(service)}" if service else "") + f" --lines {int(lines)}")


@task
def mlflow(c: Context) -> None:
    """The MLflow UI over the configured store, on 127.0.0.1:MLSTACK_MLFLOW_PORT."""
    c.run("mlstack run mlflow", pty=False)


@task
def lint(c: Context) -> None:
    """ruff check and ruff format --check over the whole workspace."""
    c.run(_tool("ruff check .", "dev"))
    c.run(_tool("ruff format --check .", "dev"))


@task
def typecheck(c: Context) -> None:
    """mypy (strict) over every package's source."""
    c.run(_tool("mypy packages/*/src", "dev"))


@task
def system_deps(c: Context) -> None:
    """Install the system packages the tests need (Chromium), if missing."""
    c.run("bash scripts/system-deps.sh")


@task(
    pre=[system_deps],
    help={
        "session": "Run one nox session, e.g. lint, typecheck, e2e or \"tests(package='core')\".",
        "jobs": "Cores to fill with sessions side by side (default: this machine's cores).",
    },
)
def test(c: Context, session: str | None = None, jobs: int | None = None) -> None:
    """Lint and typecheck, then each package's tests in its own environment, the end-to-end,
    deployment and tutorial tests: every nox session, as many at a time as there are cores."""
    if session:
        c.run(f"nox --session {quote(session)}")
    else:
        c.run("python scripts/run_sessions.py" + _opt("--jobs", jobs))


@task
def build(c: Context) -> None:
    """Import the champion into the BentoML store and build the Bento `mlstack:v<version>`."""
    c.run("mlstack-serve build")


@task(help={"reload": "Serve the service from source with hot reload (development)."})
def serve(c: Context, reload: bool = False) -> None:
    """Serve the champion's Bento on MLSTACK_API_HOST:MLSTACK_API_PORT (or the source, --reload)."""
    c.run("mlstack-serve serve" + (" --reload" if reload else ""), pty=False)


@task(
    help={
        "seconds": "Duration of each timed load of the serving benchmark (default 10).",
        "only": "serving, monitoring or startup (default: all three, then the targets table).",
        "rows": "Predictions in the monitoring benchmark's store (default 1,000,000).",
    }
)
def bench(c: Context, seconds: int = 10, only: str | None = None, rows: int = 1_000_000) -> None:
    """Serving against `mlflow models serve` and a bare Starlette endpoint (wrk, 32 and 4
    connections); monitoring pages on a 1M-prediction store; `invoke up` cold and warm in a
    fresh clone; then one table of issue 13's targets beside the measured values."""
    out = ".mlstack/bench"
    if only in (None, "serving"):
        c.run(
            f"python benchmarks/serving_bench.py --seconds {int(seconds)} --save {out}/serving.json"
        )
    if only in (None, "monitoring"):
        c.run(
            f"python benchmarks/monitoring_bench.py --rows {int(rows)} --save {out}/monitoring.json"
        )
    if only in (None, "startup"):
        c.run(f"python benchmarks/startup_bench.py --save {out}/startup.json")
    c.run(f"python benchmarks/targets.py {out}")


@task(
    help={
        "window": "Minutes to look back (default MLSTACK_MONITOR_WINDOW_MINUTES).",
        "json": "Print the report as JSON.",
        "retrain": "On a drift or quality alert with enough labelled rows, retrain (and serve).",
    }
)
def monitor(
    c: Context, window: int | None = None, json: bool = False, retrain: bool = False
) -> None:
    """Drift, latency and live quality of the served model; exit 1 when an alert fires."""
    c.run(
        "mlstack-monitor check"
        + _opt("--window", window)
        + (" --json" if json else "")
        + (" --retrain" if retrain else "")
    )


@task(
    help={
        "n": "Number of requests (each 1-5 records).",
        "drift": "Shift a few features away from the training distribution.",
        "truth_changes": "The shifted rows' ground truth follows a new rule (implies --drift).",
        "feedback_share": "Share of answers that get ground truth (default 0.5).",
    }
)
def simulate_traffic(
    c: Context,
    n: int = 200,
    drift: bool = False,
    truth_changes: bool = False,
    feedback_share: float | None = None,
) -> None:
    """Replay the champion's held-out rows against the API, with feedback for a share."""
    c.run(
        f"mlstack-monitor simulate -n {int(n)}"
        + (" --drift" if drift else "")
        + (" --truth-changes" if truth_changes else "")
        + _opt("--feedback-share", feedback_share),
        pty=False,
    )


@task(
    help={
        "data": "A new file of labelled rows to add to the champion's training data.",
        "json": "Print the outcome as JSON.",
    }
)
def retrain(c: Context, data: str | None = None, json: bool = False) -> None:
    """Train a challenger on the champion's data plus the labelled traffic since it was
    trained, gate it on recent traffic, and when promoted build it and move the API to it."""
    c.run("mlstack-train retrain" + _opt("--data", data) + (" --json" if json else ""), pty=False)


@task(help={"port": "Port (default MLSTACK_DASHBOARD_PORT)."})
def dashboard(c: Context, port: int | None = None) -> None:
    """The Streamlit monitoring dashboard alone, on 127.0.0.1, headless."""
    c.run("mlstack-monitor dashboard" + _opt("--port", port), pty=False)


@task(
    help={
        "bento": "Bento tag or folder (default: the champion's Bento).",
        "stack": "Also the wheelhouses of the MLflow and dashboard images.",
    }
)
def wheelhouse(c: Context, bento: str | None = None, stack: bool = False) -> None:
    """Download the wheels of the Bento's requirements once (cached), for offline installs."""
    c.run("mlstack-containers wheelhouse" + _opt("--bento", bento) + (" --stack" if stack else ""))


@task(
    help={
        "bento": "Bento tag or folder (default: the champion's Bento).",
        "offline": "Build with no registry: the local Debian base image and the wheelhouse.",
    }
)
def containerize(c: Context, bento: str | None = None, offline: bool = False) -> None:
    """`bentoml containerize` the champion's Bento into the image `mlstack:v<N>`."""
    c.run(
        "mlstack-containers containerize"
        + _opt("--bento", bento)
        + (" --offline" if offline else ""),
        pty=False,
    )


@task(help={"offline": "Build every image with no registry (local base image, wheelhouse)."})
def compose_up(c: Context, offline: bool = False) -> None:
    """The containerized stack from nothing: PostgreSQL, MLflow, the champion's API, dashboard."""
    c.run("mlstack-containers compose-up" + (" --offline" if offline else ""), pty=False)


@task(help={"volumes": "Also delete the volumes (database, artifacts)."})
def compose_down(c: Context, volumes: bool = False) -> None:
    """Stop the containerized stack (and delete its volumes with --volumes)."""
    c.run("mlstack-containers compose-down" + (" --volumes" if volumes else ""))


@task(
    help={
        "overlay": "local or production (default: local).",
        "example_secrets": "Render with the committed .example files.",  # pragma: allowlist secret
    }
)
def k8s_render(c: Context, overlay: str = "local", example_secrets: bool = False) -> None:
    """Print the Kubernetes manifests of an overlay (kubectl kustomize)."""
    c.run(
        "mlstack-containers k8s-render"
        + _opt("--overlay", overlay)
        + (" --example-secrets" if example_secrets else "")
    )


@task(
    help={
        "inventory": "Ansible inventory of your servers (see ansible/inventories/example).",
        "limit": "Only these hosts or groups.",
        "offline": "The hosts install from a pushed wheelhouse (no internet there).",
        "bento": "Bento tag to deploy (default: the champion's).",
        "wheelhouse": "Folder of wheels for --offline (default: the Bento's wheelhouse).",
    }
)
def deploy(
    c: Context,
    inventory: str,
    limit: str | None = None,
    offline: bool = False,
    bento: str | None = None,
    wheelhouse: str | None = None,
) -> None:
    """Roll the champion's Bento out to servers with Ansible, one host at a time."""
    c.run(
        "mlstack deploy"
        + _opt("--inventory", inventory)
        + _opt("--limit", limit)
        + (" --offline" if offline else "")
        + _opt("--bento", bento)
        + _opt("--wheelhouse", wheelhouse),
        pty=False,
    )


@task(help={"inventory": "Ansible inventory of your servers.", "limit": "Only these hosts."})
def deploy_rollback(c: Context, inventory: str, limit: str | None = None) -> None:
    """Switch every API host back to the release it ran before the last deploy."""
    c.run("mlstack deploy-rollback" + _opt("--inventory", inventory) + _opt("--limit", limit))


@task(help={"serve": "Serve the site on 127.0.0.1:8000, rebuilding on every change."})
def docs(c: Context, serve: bool = False) -> None:
    """The documentation site (README, tutorials with their outputs, API reference) into site/,
    in strict mode: any warning fails the build."""
    quiet = {"NO_MKDOCS_2_WARNING": "1"}  # Material's end-of-life banner, not a build warning
    if serve:
        serve_site = _tool("mkdocs serve --strict --dev-addr 127.0.0.1:8000", "docs")
        c.run(serve_site, env=quiet, pty=False)
    else:
        c.run(_tool("mkdocs build --strict", "docs"), env=quiet)


@task
def tutorials(c: Context) -> None:
    """Run every tutorial in docs/tutorials top to bottom, keeping the outputs in its .ipynb
    (what the site shows); each starts from a temporary state folder."""
    c.run(_tool("jupytext --to ipynb --update docs/tutorials/[0-9]*.py", "docs"))
    c.run(
        _tool("pytest --nbmake --nbmake-timeout=300 --overwrite docs/tutorials", "dev", "docs"),
        pty=False,
    )
