"""A tutorial that fails half-way must not leave its servers running (CI runs them all)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from mlstack_core.processes import group_alive
from mlstack_core.testing.servers import free_port
from tests.conftest import ROOT


def test_a_server_the_tutorial_did_not_stop_is_stopped_when_it_exits(tmp_path: Path) -> None:
    port = free_port()
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT / "docs" / "tutorials")!r})
        from tutorial_support import start
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
    pid = int(done.stdout.split()[-1])
    assert not group_alive(pid)
