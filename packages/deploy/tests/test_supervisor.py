"""The supervisor's reading of a crashed service's log."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack_deploy.supervisor import failure_from_log


@pytest.mark.parametrize(
    ("log", "cause", "hint"),
    [
        (
            "starting\nerror: no champion\nhint: run `invoke train`\n",
            "error: no champion",
            "run `invoke train`",
        ),
        ("starting\nlistening\n", "listening", ""),
        ("", "it exited without output", ""),
    ],
)
def test_the_telling_line_and_the_hint(tmp_path: Path, log: str, cause: str, hint: str) -> None:
    path = tmp_path / "api.log"
    path.write_text(log)
    assert failure_from_log(path) == (cause, hint)


def test_a_missing_log_says_so(tmp_path: Path) -> None:
    assert failure_from_log(tmp_path / "none.log")[0] == "it exited before writing a log"
