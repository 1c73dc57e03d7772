# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Simulate drift, read the dashboard, run invoke monitor
#
# **Why.** A model is trained on yesterday's customers and judged by today's. When today's
# inputs stop looking like the training data (*drift*), or the answers stop matching what
# really happens (*live quality*), the model decays silently: the API keeps answering 200.
# Monitoring compares every recent request with the *reference profile* logged at training
# (tutorial 01) and turns the comparison into alerts a person or a cron job can act on.
#
# **How.** `invoke simulate-traffic --drift` sends realistic requests with a few features
# shifted, plus ground truth for half of them; the dashboard (`invoke dashboard`) draws the
# comparison; `invoke monitor` prints the same report and exits 1 when an alert fires.

# %%
import os

import matplotlib.pyplot as plt
import pandas as pd
from tutorial_support import free_port, fresh_state, sh, start, stop

from mlstack_core.settings import load_settings

home = fresh_state("04")
port = free_port()
os.environ["MLSTACK_API_PORT"] = str(port)

# %% [markdown]
# ## A served champion (tutorials 01 and 03 in three lines)

# %%
sh("invoke train --seed-sample")
sh("invoke build")
server = start("invoke serve", f"http://127.0.0.1:{port}/readyz", home / "serve.log")

# %% [markdown]
# ## Before anything happens
#
# With no traffic there is nothing to judge, and `invoke monitor` says so instead of raising
# a false alarm: it needs `MLSTACK_MONITOR_MIN_ROWS` predictions before testing for drift.

# %%
sh("invoke monitor")

# %% [markdown]
# ## Traffic that has drifted
#
# The simulator replays held-out rows of the champion's own training run (so the labels are
# real) and, with `--drift`, moves three numeric features by two standard deviations and
# skews one categorical feature: the kind of change a new marketing campaign or a broken
# upstream export causes.

# %%
sh("invoke simulate-traffic -n 120 --drift")

# %% [markdown]
# ## What the dashboard shows
#
# The dashboard's pages are drawn from `mlstack_dashboard.monitoring.Monitor`; we ask it for
# the Drift page's data directly. Each feature of the recent requests is tested against the
# training reference (Kolmogorov-Smirnov for numbers, chi-square for categories at this size).

# %%
from mlstack_dashboard.monitoring import Monitor

monitor = Monitor(load_settings())
champion = monitor.champion()
check = monitor.drift(60, champion)
pd.DataFrame(
    [
        (f.name, f.kind, f.method, f.measure, f.score, f.threshold, f.drifted)
        for f in check.result.features
    ],
    columns=["feature", "kind", "test", "measure", "score", "threshold", "drifted"],
).sort_values("drifted", ascending=False)

# %% [markdown]
# The drifted numeric features, reference against recent traffic, as the Drift page draws them:

# %%
drifted = [f.name for f in check.result.drifted if f.kind == "numeric"]
fig, axes = plt.subplots(1, len(drifted), figsize=(4 * len(drifted), 3.2), squeeze=False)
for ax, name in zip(axes[0], drifted, strict=True):
    reference = pd.to_numeric(check.reference[name], errors="coerce").dropna()
    current = pd.to_numeric(check.current[name], errors="coerce").dropna()
    ax.hist(reference, bins=30, density=True, alpha=0.55, label="training reference")
    ax.hist(current, bins=30, density=True, alpha=0.55, label="recent requests")
    ax.set_title(name)
axes[0][0].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The same report for machines: `invoke monitor`
#
# This is what a cron job or the scheduled `monitor.yml` workflow runs. Exit code 1 means an
# alert fired (drift in more than `MLSTACK_DRIFT_SHARE_ALERT` of the features, live accuracy
# down by `MLSTACK_ACCURACY_DROP_ALERT`, or a slow p99); with `MLSTACK_ALERT_WEBHOOK_URL` set
# the alert is also POSTed as JSON.

# %%
sh("invoke monitor", expect=1)
monitor.close()

# %% [markdown]
# ## Stop the server

# %%
stop(server)

# %% [markdown]
# ## What to try next
#
# - Watch it live: `uv run invoke up`, then `uv run invoke simulate-traffic --drift` and open
#   the dashboard at http://127.0.0.1:8501 (Drift, Traffic and Quality pages).
# - Send traffic without `--drift` to a fresh state folder: `invoke monitor` exits 0.
# - `uv run invoke monitor --json` is the report a CI job attaches to an issue; go on to
#   **05**, where an alert leads to retraining on the feedback.
