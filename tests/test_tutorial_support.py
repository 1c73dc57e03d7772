"""A tutorial that fails half-way must not leave its servers running (CI runs them all)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from mlstack_core.processes import group_alive
from mlstack_core.testing.servers import free_port
from tests.conftest import ROOT


def test_a_failed_tutorial_leaves_no_server_and_no_state_folder(tmp_path: Path) -> None:
    port = free_port()
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT / "docs" / "tutorials")!r})
        from tutorial_support import fresh_state, start
        print(fresh_state("test"), flush=True)
        pid = start("{sys.executable} -m http.server {port} --bind 127.0.0.1",
                    "http://127.0.0.1:{port}/", Path({str(tmp_path / "server.log")!r}))
        print(pid, flush=True)
        raise SystemExit("a cell failed")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    home, pid = lines[0], lines[-1]
    assert not group_alive(int(pid))
    assert not Path(home).exists(), "the tutorial's state folder outlived its kernel"
