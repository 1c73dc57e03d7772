"""Test sessions. Each package's tests run in an environment holding only that package (and the
test tools), which proves it declares its own dependencies. Versions come from uv.lock.

`invoke test` runs them two at a time (scripts/run_sessions.py): the `static` sessions first,
and a `two-workers` session, whose pytest runs two workers, alone."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "docs", "tests", "e2e", "deploy"]
nox.options.error_on_external_run = True

# Longest tests first, and `docs` defined before them: where no earlier run has recorded the
# sessions' times, `invoke test` starts them in this order, and the long ones must start early.
PACKAGES = ["dashboard", "serving", "training", "core", "deploy"]
# A hung cell fails its tutorial; generous, since two cores shared by other jobs are slow.
TUTORIAL_CELL_TIMEOUT_S = 300
# pytest-xdist: two workers (the two cores), each test file on one of them.
PARALLEL_FILES = ("-n", "2", "--dist", "loadfile")


def sync(session: nox.Session, *selection: str, compile_bytecode: bool = False) -> None:
    """Install exactly the locked versions of `selection` into the session's environment.

    Bytecode is compiled only where servers start many times (it costs ~50 s per environment
    on two cores and makes every server start 2-3x faster).
    """
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        *selection,
        env={
            "UV_PROJECT_ENVIRONMENT": session.virtualenv.location,
            "UV_COMPILE_BYTECODE": "1" if compile_bytecode else "0",
        },
        external=True,
    )


@nox.session(tags=["static"])
def lint(session: nox.Session) -> None:
    """The pre-commit hooks over every file (ruff, format, yaml/toml checks, secret scan, the
    workflows against their schema and actionlint), then the tests that every workflow step
    calling the project calls an invoke task that exists and that `invoke test` runs the
    sessions side by side as it says.

    mypy needs every package installed, so it runs in `typecheck` instead of here.
    """
    # docs: jupytext's pairing hook; mlstack-deploy: `mlstack-containers`, which renders the
    # Kubernetes overlays for the kubernetes-validate and checkov hooks.
    sync(
        session,
        "--package",
        "mlstack-deploy",
        "--no-default-groups",
        "--group",
        "dev",
        "--group",
        "docs",
    )
    session.run("pre-commit", "run", "--all-files", "--show-diff-on-failure", env={"SKIP": "mypy"})
    session.run("pytest", "tests/test_workflows.py", "tests/test_run_sessions.py", *session.posargs)


@nox.session(tags=["static"])
def typecheck(session: nox.Session) -> None:
    """mypy strict over every package's source."""
    sync(session, "--all-packages", "--group", "dev")
    session.run("mypy", *(f"packages/{p}/src" for p in PACKAGES))


@nox.session
def docs(session: nox.Session) -> None:
    """Every tutorial top to bottom (nbmake, writing the outputs into the .ipynb), then the
    site built from them in strict mode, and a headless browser checking a rendered page."""
    sync(session, "--all-packages", "--group", "dev", "--group", "docs", compile_bytecode=True)
    session.run(
        "pytest",
        "--nbmake",
        f"--nbmake-timeout={TUTORIAL_CELL_TIMEOUT_S}",
        "--overwrite",
        "docs/tutorials",
        "tests/test_docs_site.py",
        "tests/test_tutorial_support.py",
        *session.posargs,
    )


@nox.session
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package's own tests, with only that package installed."""
    sync(
        session,
        "--package",
        f"mlstack-{package}",
        "--no-default-groups",
        "--group",
        "dev",
        compile_bytecode=package in ("serving", "dashboard"),
    )
    session.run("pytest", f"packages/{package}/tests", *session.posargs)


@nox.session(tags=["two-workers"])
def e2e(session: nox.Session) -> None:
    """Cross-package end-to-end tests: bootstrap, `invoke up`, the API and the dashboard.

    Two files at a time: each test owns its state folder and free ports, and much of a test
    is spent waiting on servers, uv and git, so a second worker shortens the session (the
    tutorials and the package tests keep both cores busy on their own and gain nothing)."""
    sync(session, "--all-packages", "--group", "dev", compile_bytecode=True)
    session.run("pytest", "tests", "-m", "e2e", *PARALLEL_FILES, *session.posargs)


@nox.session(tags=["two-workers"])
def deploy(session: nox.Session) -> None:
    """Deployment for real on this machine: a dockerd in a network namespace of its own
    (offline images, the compose stack, rendered and validated manifests) and Ansible to test
    hosts that behave like VMs. The container tests and the Ansible tests run side by side on
    two workers (tests/deploy/conftest.py schedules them): both spend most of their time waiting
    on servers, builds and installs.

    Its servers run in containers and on the test hosts, with bytecode of their own, so this
    environment is not compiled up front (32,000 files, ~20 s): the tools it runs write the
    bytecode of what they import on first use."""
    sync(session, "--all-packages", "--group", "dev")
    session.run(
        "pytest",
        "tests/deploy",
        "-m",
        "deploy",
        *PARALLEL_FILES,
        *session.posargs,
        env={"PYTHONDONTWRITEBYTECODE": None},
    )
