"""`invoke test` runs the nox sessions side by side (scripts/run_sessions.py): real nox on a
noxfile of sessions that record when they ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT

NOXFILE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import nox

    nox.options.default_venv_backend = "none"
    RAN = Path(__file__).parent / "ran"

    def record(name, seconds=1.5, code=0):
        start = time.time()
        time.sleep(seconds)
        RAN.mkdir(exist_ok=True)
        (RAN / name).write_text(f"{start} {time.time()}")
        print(f"output of {name}")
        if code:
            sys.exit(code)

    @nox.session(tags=["static"])
    def lint(session):
        record("lint")

    @nox.session(tags=["static"])
    def typecheck(session):
        record("typecheck")

    @nox.session
    def unit_a(session):
        record("unit_a")

    @nox.session
    def unit_b(session):
        record("unit_b", code=3)

    @nox.session(tags=["two-workers"])
    def e2e(session):
        record("e2e")
    """
)


Ran = tuple[subprocess.CompletedProcess[str], dict[str, tuple[float, float]], Path]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    """One run of the five sessions, two slots: what each test below reads."""
    tmp_path = tmp_path_factory.mktemp("sessions")
    (tmp_path / "noxfile.py").write_text(NOXFILE)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    script = ROOT / "scripts" / "run_sessions.py"
    done = subprocess.run(
        [sys.executable, str(script), "--jobs", "2", "--noxfile", str(tmp_path / "noxfile.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    spans = {}
    for record in (tmp_path / "ran").iterdir():
        start, end = record.read_text().split()
        spans[record.name] = (float(start), float(end))
    return done, spans, tmp_path


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_sessions_run_side_by_side_static_first_and_wide_alone(ran: Ran) -> None:
    done, spans, _ = ran
    assert set(spans) == {"lint", "typecheck", "unit_a", "unit_b", "e2e"}, done.stdout
    assert overlap(spans["lint"], spans["typecheck"])
    assert overlap(spans["unit_a"], spans["unit_b"])
    static_end = max(spans["lint"][1], spans["typecheck"][1])
    assert all(spans[s][0] > static_end for s in ("unit_a", "unit_b", "e2e"))
    assert not any(overlap(spans["e2e"], spans[s]) for s in spans if s != "e2e")


def test_a_failed_session_fails_the_run_after_the_others_ran_and_shows_its_output(
    ran: Ran,
) -> None:
    done, spans, tmp_path = ran
    assert done.returncode == 1
    assert "output of unit_b" in done.stdout
    assert "unit_b FAILED (exit 3)" in done.stdout
    assert "failed: unit_b" in " ".join(done.stdout.split())
    assert "e2e" in spans, "a failure stopped the sessions after it"
    times = json.loads((tmp_path / "cache" / "mlstack" / "session-seconds.json").read_text())
    assert set(times) == {"lint", "typecheck", "unit_a", "e2e"}
