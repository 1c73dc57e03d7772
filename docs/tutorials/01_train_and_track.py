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
# # 01 · Train a model and read its run in MLflow
#
# **Why.** A model you cannot trace back to its data, code and settings is a model you cannot
# fix, compare or trust. mlstack therefore never trains "just a model": every training run is
# an MLflow run that records the parameters, the metrics, the plots, a digest of the data and a
# reference profile of the features, and registers a new *version* of the model `mlstack`.
# Later tutorials build on exactly these records: the promotion gate compares versions (02),
# the API serves one (03), monitoring compares live traffic with the profile (04).
#
# **How.** One command, the same one CI and `invoke up` use: `invoke train --seed-sample`.
#
# Everything this tutorial writes goes to a new temporary state folder (`MLSTACK_HOME`), so
# it starts from nothing and leaves your own `.mlstack/` alone.

# %%
from tutorial_support import fresh_state, sh

home = fresh_state("01")
print(f"state folder: {home}")

# %% [markdown]
# ## Train on the seed sample
#
# The seed sample is a small customer-churn table bundled with `mlstack-training`: numeric,
# categorical and missing values, an identifier column (`customer_id`) that must *not* become a
# feature, and a yes/no target `churned`. The command validates it against the data contract,
# fits a scikit-learn pipeline, evaluates it on held-out rows, logs the run and runs the gate.

# %%
sh("invoke train --seed-sample")

# %% [markdown]
# The first version of a model always becomes `champion`: there is nothing to compare it with.
# Look at the state folder: the MLflow store (`mlflow.db`) and the run's artifacts are there.

# %%
for path in sorted(home.rglob("*")):
    if path.is_file() and "models" not in path.parts:
        print(path.relative_to(home))

# %% [markdown]
# ## Read the run back
#
# The registry facade in `mlstack_core` answers "which version is champion, and where did it
# come from?" without you writing MLflow queries; below it we use MLflow's own client to read
# the run as the MLflow UI (`invoke mlflow`) shows it.

# %%
import pandas as pd
from mlflow import MlflowClient

from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import load_settings

settings = load_settings()
registry = ModelRegistry(settings)
champion = registry.require_champion()
print(f"champion: {champion.name} v{champion.version}, run {champion.run_id}")

run = MlflowClient(settings.mlflow_tracking_uri).get_run(champion.run_id)
pd.Series(run.data.metrics, name="metric").sort_index().to_frame()

# %% [markdown]
# `baseline_accuracy` is what always predicting the most frequent class scores: a model that
# does not clearly beat it has learned nothing. The parameters say how the model was made:

# %%
pd.Series(run.data.params, name="value").sort_index().to_frame()

# %% [markdown]
# The data contract that training inferred (and that serving will enforce) is stored with the
# run. Note that `customer_id` is ignored: almost every value is distinct, so it is an
# identifier, not a feature.

# %%
spec = registry.spec(champion)
print(f"task {spec.task}, target {spec.target!r}")
print("numeric:    ", ", ".join(spec.numeric))
print("categorical:", ", ".join(spec.categorical))
print("ignored:    ", ", ".join(spec.ignore))

# %% [markdown]
# ## The plots logged with the run
#
# Every run logs how the model performs on the held-out rows (confusion matrix and ROC curve
# for a classifier) and which features matter (permutation importance on held-out rows).

# %%
from IPython.display import Image, display

artifacts = MlflowClient(settings.mlflow_tracking_uri).download_artifacts(
    champion.run_id, "plots", str(home / "downloaded")
)
display(Image(filename=f"{artifacts}/performance.png", width=720))
display(Image(filename=f"{artifacts}/feature_importance.png", width=720))

# %% [markdown]
# ## What to try next
#
# - Open the run in the MLflow UI: `MLSTACK_HOME=<this folder> uv run invoke mlflow`, then
#   http://127.0.0.1:5000.
# - Train on your own data: `uv run invoke train --data my.csv --target label` (see the
#   README's "Bring your own data"); break the file on purpose (an empty column, text in a
#   number) and read the one-line error.
# - Try another estimator: `uv run invoke train --seed-sample --estimator linear`, then go on to
#   **02**, where the gate decides whether it may replace the champion.
