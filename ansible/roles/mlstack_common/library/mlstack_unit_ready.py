#!/usr/bin/python
"""Wait on the host until a just-restarted unit answers its health URL; fail fast if it crashes.

One module call instead of a `uri` retry loop: no SSH round trip per poll, and a release that
crash-loops fails at its first exit instead of waiting out the whole timeout.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: mlstack_unit_ready
short_description: Wait until a restarted systemd unit answers its health URL
description:
  - Polls O(url) until it answers 200, and watches the unit meanwhile. The unit exiting
    (an automatic restart, a new main PID, or the unit failed or stopped) fails the task at
    once rather than after O(timeout).
options:
  unit:
    description: The systemd unit, restarted just before.
    required: true
    type: str
  url:
    description: The unit's health URL (plain HTTP, reachable from the host).
    required: true
    type: str
  timeout:
    description: Seconds the unit has to answer.
    type: int
    default: 120
"""

RETURN = r"""
crashed:
  description: Whether the unit exited (rather than not answering in time).
  returned: always
  type: bool
elapsed:
  description: Seconds waited.
  returned: always
  type: float
"""

POLL_SECONDS = 0.5
PROPERTIES = ("ActiveState", "SubState", "Result", "NRestarts", "MainPID")


def unit_state(module: AnsibleModule, unit: str) -> dict[str, str]:
    _, out, _ = module.run_command(
        ["systemctl", "show", unit, f"--property={','.join(PROPERTIES)}"], check_rc=True
    )
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def exited(state: dict[str, str], first_pid: str | None) -> str | None:
    """Why the unit is known to have exited since its restart, or None while it runs."""
    if state.get("ActiveState") in ("failed", "inactive"):
        return f"the unit is {state['ActiveState']} ({state.get('Result', 'unknown')})"
    if state.get("SubState") == "auto-restart" or int(state.get("NRestarts") or 0) > 0:
        return f"the unit exited and was restarted ({state.get('Result', 'unknown')})"
    pid = state.get("MainPID", "0")
    if first_pid and pid not in ("0", first_pid):
        return f"the unit's main process changed ({first_pid} -> {pid})"
    return None


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http by design
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "unit": {"type": "str", "required": True},
            "url": {"type": "str", "required": True},
            "timeout": {"type": "int", "default": 120},
        },
        supports_check_mode=True,
    )
    unit, url, timeout = module.params["unit"], module.params["url"], module.params["timeout"]
    began = time.monotonic()
    first_pid = None
    while True:
        elapsed = round(time.monotonic() - began, 1)
        state = unit_state(module, unit)
        reason = exited(state, first_pid)
        if reason:
            module.fail_json(
                msg=f"{unit} crashed before it answered {url}: {reason}",
                crashed=True,
                elapsed=elapsed,
            )
        first_pid = first_pid or (state.get("MainPID") if state.get("MainPID") != "0" else None)
        if answers(url):
            module.exit_json(changed=False, crashed=False, elapsed=elapsed)
        if elapsed > timeout:
            message = f"{unit} did not answer {url} within {timeout} s"
            module.fail_json(msg=message, crashed=False, elapsed=elapsed)
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    main()
