#!/usr/bin/env bash
# checkov over the Dockerfiles, every rendered Kubernetes overlay and the compose file, with
# the skips (and their reasons) of .checkov.yaml. checkov runs in its own tool environment
# (uvx, pinned): its pins conflict with the workspace's lock.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKOV=(uvx --from checkov==3.3.30 checkov --config-file .checkov.yaml)
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
for overlay in deployment/kubernetes/overlays/*/; do
  name="$(basename "$overlay")"
  mlstack-containers k8s-render --overlay "$name" --example-secrets > "$rendered/$name.yaml"
done
"${CHECKOV[@]}" --framework kubernetes -d "$rendered"
"${CHECKOV[@]}" --framework dockerfile $(printf -- '-f %s ' deployment/*/Dockerfile)
"${CHECKOV[@]}" --framework secrets -f deployment/docker-compose.yml -f deployment/.env.example
