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
# # 03 · Serve the champion, call the API, read /metadata and /metrics
#
# **Why.** A model is worth something once other programs can ask it questions, and an API is
# only safe to depend on when it says which model answered, rejects bad input clearly, and
# can be watched. mlstack packs the registry's champion into one immutable artifact, the Bento
# `mlstack:v<version>`: the thing you serve here is byte for byte what a container or a VM
# runs in production (tutorial 06).
#
# **How.** `invoke build` turns the champion into a Bento; `invoke serve` serves it; the API
# is plain JSON over HTTP. The server started here is stopped by its PID at the end.

# %%
import json
import os

import httpx
import matplotlib.pyplot as plt
import pandas as pd
from tutorial_support import free_port, fresh_state, sh, start, stop

from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import load_settings

home = fresh_state("03")
port = free_port()
# The API's port is a setting like any other; a free one keeps clear of a running stack.
os.environ["MLSTACK_API_PORT"] = str(port)
api = f"http://127.0.0.1:{port}"

# %% [markdown]
# ## A champion, and its Bento

# %%
sh("invoke train --seed-sample")

# %% [markdown]
# `invoke build` imports the champion from MLflow into BentoML's model store and builds the
# Bento around it. Running it again reuses both: the version number makes them immutable.

# %%
sh("invoke build")

# %% [markdown]
# ## Serve it
#
# `invoke serve` serves the champion's Bento on `MLSTACK_API_HOST:MLSTACK_API_PORT`. We start
# it in the background and wait until BentoML's readiness probe `/readyz` answers.

# %%
server = start("invoke serve", f"{api}/readyz", home / "serve.log")

# %% [markdown]
# ## Ask for predictions
#
# The request is `{"records": [...]}`, one object per row with the features the model was
# trained on. We take a few held-out rows of the champion's own training run, drop the
# target, and send them.

# %%
settings = load_settings()
champion = ModelRegistry(settings).require_champion()
rows = ModelRegistry(settings).holdout(champion)[:200]
records = [{k: v for k, v in row.items() if k != "churned"} for row in rows]

answer = httpx.post(f"{api}/predict", json={"records": records[:3]}, timeout=30)
print(answer.status_code)
print(json.dumps(answer.json(), indent=2))

# %% [markdown]
# Each answer carries a `prediction_id` (to send the truth later), the prediction, the class
# probabilities and the `model_version` that answered: when you roll back, the version in the
# answers changes with it. Let us score all 200 rows and compare with what really happened.

# %%
scored = httpx.post(f"{api}/predict", json={"records": records}, timeout=60).json()
frame = pd.DataFrame(
    {
        "p_churn": [a["probabilities"]["yes"] for a in scored],
        "churned": [row["churned"] for row in rows],
    }
)
fig, ax = plt.subplots(figsize=(7, 3.5))
for label, group in frame.groupby("churned"):
    ax.hist(group["p_churn"], bins=20, range=(0, 1), alpha=0.6, label=f"churned = {label}")
ax.set(xlabel="predicted probability of churn", ylabel="customers", title="200 held-out rows")
ax.legend()
plt.show()

# %% [markdown]
# ## Tell the model what really happened
#
# Ground truth usually arrives later (the customer leaves, or not). `POST /feedback` stores it
# next to the prediction; monitoring turns it into live accuracy (tutorial 04).

# %%
truth = {"prediction_id": scored[0]["prediction_id"], "actual": rows[0]["churned"]}
print(httpx.post(f"{api}/feedback", json=truth, timeout=10).json())

# %% [markdown]
# ## Bad input is answered, not crashed on
#
# A value the model cannot accept gets a 4xx with the field and the problem, never a 500 or a
# silent guess. Here a contract type the model has never seen:

# %%
bad = dict(records[0], contract="lifetime")
rejected = httpx.post(f"{api}/predict", json={"records": [bad]}, timeout=10)
print(rejected.status_code)
print(json.dumps(rejected.json(), indent=2)[:800])

# %% [markdown]
# ## What is being served: /metadata
#
# `/metadata` answers "which model is this?" without access to MLflow: name, version,
# metrics from its training run, and the input schema derived from the data contract.

# %%
metadata = httpx.get(f"{api}/metadata", timeout=10).json()
print(json.dumps({k: v for k, v in metadata.items() if k != "input_schema"}, indent=2)[:1500])

# %% [markdown]
# ## How it is doing: /metrics
#
# `/metrics` is Prometheus text: BentoML's request metrics plus mlstack's own, labelled by
# model version. A Prometheus server scrapes it; here we just read our lines.

# %%
metrics = httpx.get(f"{api}/metrics", timeout=10).text
for line in metrics.splitlines():
    if line.startswith(("mlstack_predictions_total", "mlstack_prediction_latency_seconds_count")):
        print(line)

# %% [markdown]
# ## Stop the server
#
# By the PID we started it with (its whole process group: BentoML forks workers).

# %%
stop(server)

# %% [markdown]
# ## What to try next
#
# - `uv run invoke serve --reload` serves the service from source and reloads on every edit:
#   the way to change `mlstack_serving/service.py`.
# - Open http://127.0.0.1:3000/docs while `invoke up` runs: BentoML's OpenAPI page, with the
#   request type generated from the data contract.
# - Roll back (tutorial 02), `invoke build` and serve again: `model_version` in the answers
#   changes. Then go on to **04**, where the logged predictions become a monitoring report.
