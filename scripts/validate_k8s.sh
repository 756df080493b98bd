#!/usr/bin/env bash
# validate_k8s.sh [OVERLAY_DIR ...]: renders each kustomize overlay (default:
# every folder in deploy/k8s/overlays) with `kubectl kustomize` and validates the
# objects against the OpenAPI schemas of one pinned Kubernetes version, strictly
# (unknown fields fail). Offline: both tools and the schemas come from
# .venv/deploy (scripts/setup_deploy_env.sh); no cluster is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
# the oldest Kubernetes we deploy to; kubernetes-validate==1.37.0 bundles 1.2x-1.37
KUBERNETES_VERSION=1.34.0

scripts/setup_deploy_env.sh
# the project's own kubectl, never one that happens to be on PATH
kubectl=$PWD/.venv/deploy/bin/kubectl
validate=$PWD/.venv/deploy/bin/kubernetes-validate
# rendering needs no cluster: make sure no kubeconfig is ever read
export KUBECONFIG=/dev/null

overlays=("$@")
(( ${#overlays[@]} )) || overlays=(deploy/k8s/overlays/*/)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for overlay in "${overlays[@]}"; do
  overlay=${overlay%/}
  rendered=$work/$(basename "$overlay").yaml
  if ! "$kubectl" kustomize "$overlay" > "$rendered"; then
    echo "FAIL $overlay: kubectl kustomize could not render it"; failed=1; continue
  fi
  objects=$(grep -c '^kind:' "$rendered" || true)
  if (( objects == 0 )); then
    echo "FAIL $overlay: rendered no objects"; failed=1; continue
  fi
  # --quiet prints only problems. A WARN is a kind or apiVersion without a schema
  # (a typo, or a removed API): kubernetes-validate passes it, we do not.
  set +e
  report=$("$validate" --strict --quiet --kubernetes-version "$KUBERNETES_VERSION" "$rendered" 2>&1)
  status=$?
  set -e
  if (( status != 0 )) || [[ $report == *WARN* ]]; then
    echo "FAIL $overlay: does not validate against Kubernetes $KUBERNETES_VERSION (strict)"
    echo "${report//$rendered/$overlay}" | sed 's/^/  /'
    failed=1
  else
    echo "OK   $overlay: $objects objects valid for Kubernetes $KUBERNETES_VERSION (strict)"
  fi
done
exit "$failed"
