"""The workflows cannot drift from the tasks: every `run:` step that calls the project calls an
`invoke` task that exists (`invoke --list`), with options that task has (`invoke --help TASK`),
so CI runs exactly what a person runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
INVOKE = str(Path(sys.executable).parent / "invoke")
# `uv run invoke ARGS` (or `invoke ARGS`) up to the end of that shell command, or of the
# backquotes around it when a message names the command to run by hand.
INVOKE_CALL = re.compile(r"(?:^|[\s;&|(`])(?:uv run\s+)?invoke\s+(?P<args>[^\n;&|)<>`]*)")
# `uv run PROGRAM`: anything but invoke bypasses the tasks.
UV_RUN = re.compile(r"(?:^|[\s;&|(])uv run\s+(?P<program>[^\s;&|)]+)")
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][A-Za-z0-9-]*)")


@dataclass(frozen=True)
class Call:
    """One `invoke` call in one workflow step."""

    where: str
    task: str
    options: tuple[str, ...]


def _run_scripts(workflow: dict[str, Any]) -> list[tuple[str, str]]:
    """(job/step, script) of every `run:` step, continuation lines joined."""
    scripts = []
    for job_id, job in (workflow.get("jobs") or {}).items():
        for index, step in enumerate(job.get("steps") or []):
            if "run" in step:
                where = f"{job_id}/{step.get('name', step.get('id', index))}"
                scripts.append((where, str(step["run"]).replace("\\\n", " ")))
    return scripts


def invoke_calls(workflow: dict[str, Any], name: str) -> list[Call]:
    """The task and the options of every `invoke` call in the workflow's `run:` steps."""
    calls = []
    for where, script in _run_scripts(workflow):
        for match in INVOKE_CALL.finditer(script):
            words = []
            for word in match["args"].split():
                if word.startswith("#"):
                    break
                words.append(word.strip("\"'\\"))
            positional = [w for w in words if not w.startswith("-")]
            options = tuple(w.split("=", 1)[0] for w in words if w.startswith("-"))
            task = positional[0] if positional else ""
            calls.append(Call(f"{name}:{where}", task, options))
    return calls


def bypasses(workflow: dict[str, Any]) -> list[str]:
    """`uv run` of a program other than invoke (CI would run what no person runs)."""
    return [
        f"{where}: uv run {m['program']}"
        for where, script in _run_scripts(workflow)
        for m in UV_RUN.finditer(script)
        if m["program"] != "invoke"
    ]


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


ALL_CALLS = [call for path in WORKFLOWS for call in invoke_calls(load(path), path.name)]


@cache
def existing_tasks() -> frozenset[str]:
    listing = subprocess.run(
        [INVOKE, "--list", "--list-format=json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    tasks = json.loads(listing.stdout)["tasks"]
    return frozenset(name for task in tasks for name in (task["name"], *task.get("aliases", [])))


@cache
def task_options(task: str) -> frozenset[str]:
    shown = subprocess.run(
        [INVOKE, "--help", task], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    options = shown.stdout.split("Options:", 1)[-1]
    return frozenset(OPTION.findall(options)) | {"-h", "--help"}


def problems(call: Call) -> list[str]:
    """Why a call would fail: an unknown task, or an option the task does not have."""
    if call.task not in existing_tasks():
        return [f"{call.where}: `invoke {call.task}` is not a task (see `invoke --list`)"]
    unknown = [o for o in call.options if o not in task_options(call.task)]
    return [f"{call.where}: `invoke {call.task}` has no option {o}" for o in unknown]


def test_every_workflow_calls_the_tasks() -> None:
    assert WORKFLOWS, "no workflows found"
    called = {call.where.split(":", 1)[0] for call in ALL_CALLS}
    assert called == {path.name for path in WORKFLOWS}


@pytest.mark.parametrize("call", ALL_CALLS, ids=lambda c: f"{c.where}:{c.task}")
def test_each_invoke_call_names_an_existing_task_and_its_options(call: Call) -> None:
    assert problems(call) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_the_project_is_run_only_through_invoke(path: Path) -> None:
    assert bypasses(load(path)) == []


FAKE_WORKFLOW = {
    "jobs": {
        "j": {
            "steps": [
                {"name": "ok", "run": 'uv run invoke test --session "$SESSION"'},
                {"name": "sudo", "run": 'sudo env "PATH=$PATH" uv run invoke build'},
                {"name": "no-task", "run": "set -e\nuv run invoke no-such-task --x > out.json"},
                {"name": "bad-option", "run": "uv run invoke \\\n  build --nope"},
                {"name": "bypass", "run": "uv run mlstack-train train --seed-sample"},
                {"uses": "actions/checkout@0000000000000000000000000000000000000000"},
            ]
        }
    }
}


def test_the_checker_finds_unknown_tasks_options_and_bypasses() -> None:
    calls = invoke_calls(FAKE_WORKFLOW, "fake.yml")
    assert [(c.task, c.options) for c in calls] == [
        ("test", ("--session",)),
        ("build", ()),
        ("no-such-task", ("--x",)),
        ("build", ("--nope",)),
    ]
    found = [p for call in calls for p in problems(call)]
    assert found == [
        "fake.yml:j/no-task: `invoke no-such-task` is not a task (see `invoke --list`)",
        "fake.yml:j/bad-option: `invoke build` has no option --nope",
    ]
    assert bypasses(FAKE_WORKFLOW) == ["j/bypass: uv run mlstack-train"]
