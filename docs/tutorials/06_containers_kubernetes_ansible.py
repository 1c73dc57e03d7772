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
# # 06 · Containers, compose, Kubernetes and Ansible
#
# **Why.** Tutorials 01-05 ran everything as processes on one machine. Production needs the
# same model on machines you do not sit at, started the same way every time, and replaceable
# without downtime. mlstack ships exactly one deployable artifact, the Bento
# `mlstack:v<version>`, and three roads to run it; none of them rebuilds the model:
#
# | road | command | runs the Bento as | needs |
# | --- | --- | --- | --- |
# | integration testing | `invoke compose-up` | an image, next to PostgreSQL, MLflow, the dashboard | a Docker engine |
# | a cluster | `invoke containerize`, push, `invoke k8s-render` + `kubectl apply` | an image, in a Deployment | a registry and a cluster |
# | your servers | `invoke deploy --inventory FILE` | a venv and a systemd unit per host, via Ansible | SSH to the hosts |
#
# **How.** This page runs the parts that need no Docker engine and no servers: it builds the
# Bento, renders the Kubernetes manifests and checks the Ansible playbook; the commands that
# need an engine or hosts are shown with what they do. The `deploy` nox session runs all of
# them for real (a Docker engine in a network namespace, systemd test hosts).

# %%
import yaml
from tutorial_support import ROOT, fresh_state, sh

home = fresh_state("06")

# %% [markdown]
# ## The artifact: one Bento per registry version

# %%
sh("invoke train --seed-sample")
sh("invoke build")

# %% [markdown]
# ## Containers
#
# `invoke containerize` runs `bentoml containerize` on the champion's Bento and tags the image
# `mlstack:v<version>`; `--offline` builds it without any registry (a local Debian base image
# and a wheelhouse of the Bento's locked requirements, `invoke wheelhouse`). It needs a Docker
# engine, so here we only ask what it takes:

# %%
sh("invoke --help containerize")

# %% [markdown]
# ## Compose: the whole stack on one Docker host
#
# `invoke compose-up` starts PostgreSQL, MLflow, the API image and the dashboard from
# `deployment/docker-compose.yml`, each waiting for the health of what it depends on: the
# closest thing to production on a laptop, and what integration tests run against.
# `invoke compose-down --volumes` removes it all.

# %%
sh("invoke --help compose-up")

# %% [markdown]
# ## Kubernetes: manifests rendered offline
#
# `deployment/kubernetes/` is a kustomize base with overlays (`local`, `production`).
# Rendering needs no cluster, so it runs here. The Secrets come from files that are never
# committed; `--example-secrets` renders with their committed `.example` stand-ins. Each
# resource, and the image each workload runs:

# %%
rendered = home / "local.yaml"
sh(f"invoke k8s-render --overlay local --example-secrets > {rendered}")
resources = [doc for doc in yaml.safe_load_all(rendered.read_text()) if doc]
for doc in resources:
    pod = doc.get("spec", {}).get("template", {}).get("spec", {})
    images = ", ".join(c["image"] for c in pod.get("containers", []))
    print(f"{doc['kind']:<22} {doc['metadata']['name']:<28} {images}")

# %% [markdown]
# In production the `release.yml` workflow sets the overlay's image to the one it just pushed,
# renders it, `kubectl apply`s it and waits for the rollout (undoing it if the new pods never
# become ready).
#
# ## Ansible: the Bento on your own servers
#
# `invoke deploy --inventory FILE` exports the Bento, and for one host at a time: installs it in
# a fresh virtual environment from a wheelhouse, switches a systemd unit to it, waits for
# `/readyz`, and puts the previous release back if that check fails (`invoke deploy-rollback`
# does it by hand). Without hosts we can still check the playbook and read the example
# inventory:

# %%
inventory = ROOT / "ansible" / "inventories" / "example" / "hosts.yml"
sh(f"ansible-playbook --syntax-check -i {inventory} {ROOT / 'ansible' / 'deploy.yml'}")
sh(f"ansible-inventory -i {inventory} --graph")

# %% [markdown]
# ## What to try next
#
# - With Docker installed: `uv run invoke compose-up`, then the quick checks of tutorial 03
#   against http://127.0.0.1:3000; `uv run invoke compose-down --volumes` afterwards.
# - Render the production overlay with its example secrets:
#   `uv run invoke k8s-render --overlay production --example-secrets`.
# - Read `.github/workflows/release.yml`: the same tasks, in the order a release runs them.
