"""Run every nox session, several at a time: what `invoke test` (and so `.ci/run`) runs.

Most sessions keep one core busy and leave the others idle (one pytest process that waits on
servers, uv and git), so two of them side by side take about as long as the longer one. A
session tagged `two-workers` runs its tests on two pytest-xdist workers and takes two slots.
The sessions tagged `static` (lint, typecheck) run before the others: they fail fastest, and
the lint hooks must not see the work tree while the docs session writes the tutorials' outputs
into their notebooks (pre-commit would blame a hook for that change). Then the longest
sessions of the last run start first. A session's output is printed whole when it ends, so
the log still reads one session at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mlstack_core.processes import stop_groups

NOXFILE = Path(__file__).resolve().parents[1] / "noxfile.py"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlstack"
TIMES = CACHE / "session-seconds.json"
WIDE_TAG = "two-workers"
FIRST_TAG = "static"
POLL_S = 1.0
STILL_RUNNING_EVERY_S = 120.0

console = Console(highlight=False)


@dataclass(frozen=True)
class Session:
    name: str
    slots: int
    first: bool


@dataclass
class Run:
    session: Session
    process: subprocess.Popen[bytes]
    log: Path
    started: float

    def seconds(self) -> float:
        return time.monotonic() - self.started


def nox(noxfile: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "nox", "--noxfile", str(noxfile), *args]


def listed_sessions(noxfile: Path) -> list[Session]:
    """The sessions `nox` runs by default, in the noxfile's order, with the slots each takes."""
    listing = subprocess.run(
        nox(noxfile, "--list", "--json"),
        capture_output=True,
        text=True,
        check=True,
    )
    return [
        Session(entry["session"], 2 if WIDE_TAG in entry["tags"] else 1, FIRST_TAG in entry["tags"])
        for entry in json.loads(listing.stdout)
    ]


def last_times() -> dict[str, float]:
    try:
        loaded = json.loads(TIMES.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def save_times(times: dict[str, float]) -> None:
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    partial = TIMES.with_suffix(".tmp")
    partial.write_text(json.dumps(times, indent=2, sort_keys=True))
    partial.replace(TIMES)


def start(session: Session, noxfile: Path) -> Run:
    logs = noxfile.parent / ".nox" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{session.name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            nox(noxfile, "--session", session.name),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # stopped as a group: its servers and test workers too
        )
    console.print(f"[bold]started[/] {session.name}")
    return Run(session, process, log, time.monotonic())


def report(run: Run, code: int) -> None:
    """The session's whole output, then one line with its result."""
    sys.stdout.flush()
    console.rule(f"{run.session.name}")
    sys.stdout.write(run.log.read_text(errors="replace"))
    sys.stdout.flush()
    verdict = "[green]passed[/]" if code == 0 else f"[red]FAILED (exit {code})[/]"
    console.print(f"[bold]{run.session.name}[/] {verdict} in {run.seconds():.0f} s")


def run_all(noxfile: Path, slots: int) -> dict[str, tuple[int, float]]:
    """The `static` sessions, then the others; return each one's exit code and seconds."""
    sessions = listed_sessions(noxfile)
    times = last_times()
    results = run_stage(noxfile, [s for s in sessions if s.first], slots, times)
    results |= run_stage(noxfile, [s for s in sessions if not s.first], slots, times)
    save_times({**times, **{name: s for name, (code, s) in results.items() if code == 0}})
    return results


def run_stage(
    noxfile: Path, sessions: list[Session], slots: int, times: dict[str, float]
) -> dict[str, tuple[int, float]]:
    """Start the next session whenever its slots are free, longest (last run) first. Ctrl-C
    stops every running session's process group."""
    pending = sorted(sessions, key=lambda s: -times.get(s.name, 0.0))  # stable: noxfile order
    running: list[Run] = []
    results: dict[str, tuple[int, float]] = {}
    last_note = time.monotonic()
    try:
        while pending or running:
            free = slots - sum(r.session.slots for r in running)
            ready = next((s for s in pending if min(s.slots, slots) <= free), None)
            if ready is not None:
                pending.remove(ready)
                running.append(start(ready, noxfile))
                continue
            time.sleep(POLL_S)
            for run in list(running):
                code = run.process.poll()
                if code is not None:
                    running.remove(run)
                    results[run.session.name] = (code, run.seconds())
                    report(run, code)
            if running and time.monotonic() - last_note > STILL_RUNNING_EVERY_S:
                last_note = time.monotonic()
                busy = ", ".join(f"{r.session.name} ({r.seconds():.0f} s)" for r in running)
                console.print(f"still running: {busy}")
    except KeyboardInterrupt:
        stop_groups([r.process.pid for r in running])
        raise
    return results


def summary(results: dict[str, tuple[int, float]], wall: float) -> None:
    table = Table(title=f"nox sessions, {wall:.0f} s in all")
    table.add_column("session")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    for name, (code, seconds) in results.items():
        table.add_row(name, "passed" if code == 0 else f"FAILED (exit {code})", f"{seconds:.0f}")
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="Cores to fill with sessions (default: this machine's cores).",
    )
    parser.add_argument("--noxfile", type=Path, default=NOXFILE, help="(default: the project's)")
    args = parser.parse_args()
    began = time.monotonic()
    results = run_all(args.noxfile.resolve(), max(1, args.jobs))
    summary(results, time.monotonic() - began)
    failed = [name for name, (code, _) in results.items() if code != 0]
    if failed:
        logs = args.noxfile.resolve().parent / ".nox" / "logs"
        console.print(f"[red]failed:[/] {', '.join(failed)} (their logs: {logs})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
