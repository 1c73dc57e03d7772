"""Run mlstack console scripts one after another in one Python process.

`up`'s bootstrap trains a model, then builds its Bento. As two processes, each one imports
MLflow, scikit-learn and pandas again: seconds of a cold start. In one process the second
step reuses what the first imported. Each step runs as its console script would (its argv,
its output, its exit code); deploy still knows the others only by their console scripts'
names. The chain stops at the first step that fails, says which on stderr, and exits with
that step's code.

    python -m mlstack_deploy.chain [--progress-fd FD] SCRIPT ARGS… [--then SCRIPT ARGS…]…

With `--progress-fd`, the index of every finished step is written to that file descriptor
as a line, so the caller can act on the training's result while the build still runs; after
the last step the chain lets go of that pipe and of its stdout, and what the steps left for
their exit runs without holding the caller.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

THEN = "--then"
FAILED = "chain: failed at step "
USAGE = "usage: python -m mlstack_deploy.chain [--progress-fd FD] SCRIPT ARGS… [--then SCRIPT…]…"


def split_steps(argv: Sequence[str]) -> list[list[str]]:
    """The steps of a command line: console-script argvs separated by `--then`."""
    steps: list[list[str]] = [[]]
    for arg in argv:
        if arg == THEN:
            steps.append([])
        else:
            steps[-1].append(arg)
    if any(not step for step in steps):
        raise SystemExit(USAGE)
    return steps


def script(name: str) -> Callable[[], object]:
    """The function behind this environment's console script `name`."""
    found = entry_points(group="console_scripts", name=name)
    if not found:
        raise SystemExit(f"chain: no console script {name!r} in this environment")
    loaded: Callable[[], object] = next(iter(found)).load()
    return loaded


def run_step(argv: list[str]) -> int:
    """Call a console script with `argv` as its command line; its exit code."""
    sys.argv = argv
    try:
        script(argv[0])()
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        sys.stderr.write(f"{code}\n")
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


def main(argv: Sequence[str]) -> int:
    progress_fd: int | None = None
    if len(argv) >= 2 and argv[0] == "--progress-fd":
        progress_fd, argv = int(argv[1]), argv[2:]
    for index, step in enumerate(split_steps(argv)):
        code = run_step(step)
        if code != 0:
            sys.stderr.write(f"{FAILED}{index}\n")
            return code
        if progress_fd is not None:
            os.write(progress_fd, f"{index}\n".encode())
    if progress_fd is not None:
        release_caller(progress_fd)
    return 0


def release_caller(progress_fd: int) -> None:
    """Let go of the caller's pipes before the steps' exit work (the plots of `--plots-later`).

    A caller reads its output to the end (`invoke up --detach` does): it must not wait on
    work it was told it can go on without. Stdout joins stderr (the bootstrap log).
    """
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    os.close(progress_fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
