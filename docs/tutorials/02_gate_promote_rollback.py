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
# # 02 · The promotion gate, promote and roll back
#
# **Why.** Retraining is cheap; replacing the model people depend on is not. A new version
# should take over only when it is measurably better *on the same held-out rows*, and a human
# must be able to overrule the gate, and undo their own decision in one command, with a record
# of who moved the champion, when and why. mlstack keeps that record in the MLflow registry:
# the alias `champion` says which version is served, `challenger` marks a version that lost.
#
# **How.** `invoke train` runs the gate after every training; `invoke promote VERSION` and
# `invoke rollback` move the alias by hand. Everything here happens in a fresh state folder.

# %%
import pandas as pd
from tutorial_support import fresh_state, sh, versions_table

from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import load_settings

home = fresh_state("02")
print(f"state folder: {home}")

# %% [markdown]
# ## Two trainings, one champion
#
# The first version becomes champion because there is nothing to beat. Then we train the very
# same pipeline on the very same data again. Its score is identical, so it does not clear the
# gate's threshold (`MLSTACK_GATE_MIN_ABS_DELTA`, 0.002 by default): identical is not better,
# and a model that is not better is not worth the risk of a change.

# %%
sh("invoke train --seed-sample")

# %%
sh("invoke train --seed-sample")

# %% [markdown]
# The decision and its reason are written on each version as tags, so the registry (and the
# dashboard's Models page) can always answer "why is this the champion?".

# %%
registry = ModelRegistry(load_settings())
versions_table(registry)

# %% [markdown]
# ## Overrule the gate: promote by hand
#
# Sometimes you know better than a metric: the new version fixes a bias the held-out rows do
# not show, or it was trained on fresher data. `invoke promote` moves the alias anyway and
# records the reason you give.

# %%
sh("invoke promote 2 --reason 'trained on the fresher export'")
print("champion is now", registry.require_champion().version)

# %% [markdown]
# ## Undo it: roll back
#
# Rolling back gives the alias to the *previous champion*, whatever its number, so the command
# needs no argument and works at three in the morning.

# %%
sh("invoke rollback")
print("champion is now", registry.require_champion().version)

# %% [markdown]
# Every move of the alias is in the history, oldest first, with its reason:

# %%
pd.DataFrame([event.model_dump() for event in registry.history()])

# %% [markdown]
# ## A mistake is refused, not half-done
#
# Promoting a version that does not exist changes nothing and says why (exit code 2, one line,
# a hint); the champion stays where it was.

# %%
sh("invoke promote 42", expect=2)
print("champion is still", registry.require_champion().version)

# %% [markdown]
# ## What to try next
#
# - Make the gate stricter or looser: `MLSTACK_GATE_MIN_ABS_DELTA=0 uv run invoke train
#   --seed-sample` promotes a tie; `MLSTACK_GATE_METRIC=f1` compares another metric.
# - Train a different estimator (`--estimator random_forest`) and read the reason the gate
#   gives for it.
# - Go on to **03** to serve the champion; after a rollback, `invoke build` and `invoke serve`
#   serve the restored version, because the registry is the one source of truth.
