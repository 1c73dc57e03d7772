"""Console scripts run one after another in one process: progress, the first failure, usage."""

from __future__ import annotations

import os
import subprocess
import sys

CHAIN = [sys.executable, "-m", "mlstack_deploy.chain"]


def chain(*argv: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the chain with a progress pipe; its result and the step indexes it reported."""
    progress, writer = os.pipe()
    done = subprocess.run(
        [*CHAIN, "--progress-fd", str(writer), *argv],
        capture_output=True,
        text=True,
        pass_fds=(writer,),
        check=False,
        timeout=60,
    )
    os.close(writer)
    with os.fdopen(progress) as lines:
        return done, lines.read().split()


def test_every_step_runs_in_order_and_reports_its_end() -> None:
    done, finished = chain("mlstack", "--help", "--then", "mlstack-containers", "--help")
    assert done.returncode == 0, done.stderr
    assert finished == ["0", "1"]
    assert done.stdout.index("Run the local mlstack") < done.stdout.index("compose-up")


def test_the_first_failing_step_stops_the_chain_with_its_code() -> None:
    done, finished = chain("mlstack", "logs", "nosuch", "--then", "mlstack", "--help")
    assert done.returncode == 2
    assert finished == []
    assert "unknown service 'nosuch'" in done.stderr
    assert done.stderr.strip().endswith("chain: failed at step 0")
    assert "Run the local mlstack" not in done.stdout


def test_a_failure_after_a_success_names_the_later_step() -> None:
    done, finished = chain("mlstack", "--help", "--then", "mlstack", "logs", "nosuch")
    assert (done.returncode, finished) == (2, ["0"])
    assert done.stderr.strip().endswith("chain: failed at step 1")


def test_an_unknown_script_or_an_empty_step_is_refused_in_one_line() -> None:
    unknown, _ = chain("no-such-script")
    assert unknown.returncode == 1
    assert unknown.stderr.splitlines() == [
        "chain: no console script 'no-such-script' in this environment",
        "chain: failed at step 0",
    ]
    empty, _ = chain("mlstack", "--help", "--then")
    assert empty.returncode == 1
    assert empty.stderr.strip().startswith("usage: python -m mlstack_deploy.chain")
