# Sourced by the deployment scripts: which Docker they call and the images'
# names. Only Debian's docker.io is part of the project's machines (another
# `docker` client may come first on PATH); DOCKER= overrides it elsewhere.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/defaults.sh"  # PINE_* (defaults.env)
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER_BUILDKIT=1  # RUN --mount: wheels and the model never become image layers
IMAGE_TAG=$PINE_IMAGE_TAG
DEBIAN_IMAGE=pine/debian:bookworm
PYTHON310_IMAGE=pine/python:3.10
# the tiers, each built from deploy/docker/<tier>.Dockerfile as pine/<tier>:$IMAGE_TAG
TIERS=(rasa actions model webchat lb postgres redis)

# every image the project builds carries it: clean-ups touch only those
IMAGE_LABEL=org.pinecrest.project=pine

image_exists() { "$DOCKER" image inspect "$1" > /dev/null 2>&1; }
