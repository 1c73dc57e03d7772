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
# # 05 · Retrain from feedback
#
# **Why.** Tutorial 04 ended with an alert. An alert alone fixes nothing: the model has to
# learn what the world looks like now. The best teacher is the world itself: the predictions
# that later received their ground truth through `/feedback`. Retraining on them closes the
# loop, but only safely if the new model is judged on *recent* rows neither model trained on,
# and replaces the champion only when it is surely better there.
#
# **How.** `invoke retrain` turns the labelled traffic back into training rows (through the
# champion's data contract), trains a challenger on the old rows plus the new ones, gates it
# on the newest labelled rows, and, when promoted, builds its Bento. `invoke monitor --retrain`
# does the same automatically when an alert fires (the scheduled `monitor.yml` workflow runs
# it). The server started here is stopped by its PID.

# %%
import os

import httpx
import matplotlib.pyplot as plt
from tutorial_support import free_port, fresh_state, sh, start, stop, versions_table

from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import load_settings
from mlstack_dashboard.monitoring import Monitor

home = fresh_state("05")
port = free_port()
os.environ["MLSTACK_API_PORT"] = str(port)
api = f"http://127.0.0.1:{port}"


def live_accuracy() -> float:
    """Live accuracy of the last hour's labelled predictions, as the dashboard shows it."""
    monitor = Monitor(load_settings())
    try:
        quality = monitor.report(60).quality
    finally:
        monitor.close()
    if quality is None or quality.live is None:
        raise RuntimeError("no labelled predictions in the last hour")
    return quality.live


# %% [markdown]
# ## v1 serves, then the world changes
#
# `--truth-changes` sends shifted inputs whose ground truth follows a *new rule*: customers
# who used to stay now leave. The model's inputs drift and its answers stop matching reality.

# %%
sh("invoke train --seed-sample")
sh("invoke build")
server = start("invoke serve", f"{api}/readyz", home / "serve-v1.log")
sh("invoke simulate-traffic --truth-changes")
before = live_accuracy()
sh("invoke monitor", expect=1)

# %% [markdown]
# ## Retrain on what the world said
#
# The output says which rows were used (the old training rows, the labelled predictions and
# their time window), which were refused by the contract and why, and the gate's decision on
# the recent held-out rows. With fewer than `MLSTACK_RETRAIN_MIN_ROWS` labelled rows it would
# exit 2 and change nothing.

# %%
sh("invoke retrain")

# %% [markdown]
# The registry now has two versions; the decision, and the data each was trained on, are on
# the versions (the dashboard's Models page shows the same).

# %%
versions_table(ModelRegistry(load_settings()))

# %% [markdown]
# ## Serve the new champion
#
# Under `invoke up` the retrain moves the running API itself (`mlstack reload-api`). Our
# server was started by hand, so we move it by hand: stop it, serve again. The API serves
# whatever the registry's champion is; its Bento was built by the retrain.

# %%
stop(server)
server = start("invoke serve", f"{api}/readyz", home / "serve-v2.log")
print("now serving version", httpx.get(f"{api}/metadata", timeout=10).json()["version"])

# %% [markdown]
# The same changed world again, now answered by the new champion:

# %%
sh("invoke simulate-traffic --truth-changes")
after = live_accuracy()
stop(server)

# %%
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(["v1 after the change", "retrained champion"], [before, after], color=["#c66", "#4a8"])
ax.set(ylim=(0, 1), ylabel="live accuracy (last hour)", title="Feedback closes the loop")
for x, value in enumerate([before, after]):
    ax.text(x, value + 0.02, f"{value:.2f}", ha="center")
plt.show()

# %% [markdown]
# The last hour mixes answers of both versions, so the figure understates the new champion;
# the dashboard's Quality page splits it by version.
#
# ## What to try next
#
# - The whole loop on the local stack, hands off: `uv run invoke up --detach`, `uv run invoke
#   simulate-traffic --truth-changes`, `uv run invoke monitor --retrain`.
# - Send traffic *without* `--truth-changes` and retrain: the gate keeps v1, and says why.
# - Add a new labelled file to the retrain: `uv run invoke retrain --data new_rows.csv`.
# - Go on to **06**: the same Bento in a container, on Kubernetes and on VMs.
