#!/usr/bin/env bash
# Builds the base images the tiers' Dockerfiles start FROM, without a container
# registry (none is reachable from these machines):
#   pine/debian:bookworm  Debian 12 from Debian's packages (debootstrap), with
#                         Python 3.11: the model server, web chat page, nginx,
#                         PostgreSQL and Redis images
#   pine/python:3.10      that image plus this machine's CPython 3.10 (pyenv's
#                         build: same glibc) in /usr/local, as in the official
#                         python images: Rasa 3.6 needs 3.10, Debian 12 has 3.11
# Elsewhere, use the official images instead (scripts/build_images.sh says how).
# Idempotent: an image that exists is kept (FORCE=1 rebuilds).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/docker_env.sh

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
rootfs=var/docker/rootfs

if [[ -n ${FORCE:-} ]] || ! image_exists "$DEBIAN_IMAGE"; then
  echo "==> $DEBIAN_IMAGE from Debian's packages (debootstrap, about a minute)"
  rm -rf "$rootfs"; mkdir -p "$rootfs"
  # python3-venv: every Python tier makes its own venv; ca-certificates: TLS clients
  debootstrap --variant=minbase --include=ca-certificates,python3,python3-venv \
    bookworm "$rootfs" "$MIRROR" > var/docker/debootstrap.log 2>&1 \
    || { tail -20 var/docker/debootstrap.log >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar --numeric-owner -C "$rootfs" -c . | "$DOCKER" import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    -c 'CMD ["bash"]' -c "LABEL $IMAGE_LABEL" - "$DEBIAN_IMAGE" > /dev/null
  rm -rf "$rootfs"
fi

if [[ -n ${FORCE:-} ]] || ! image_exists "$PYTHON310_IMAGE"; then
  python=$(scripts/find_python.sh 3.10)
  prefix=$("$python" -c 'import sys; print(sys.base_prefix)')
  echo "==> $PYTHON310_IMAGE: $DEBIAN_IMAGE + CPython 3.10 from $prefix"
  context=$(mktemp -d var/docker/python310.XXXXXX)
  trap 'rm -rf "$context"' EXIT
  # the interpreter, its standard library and pip; nothing this machine added
  # to its site-packages (e.g. a sandbox's certificate hook)
  tar -C "$prefix" -c --exclude='lib/python3.10/site-packages' --exclude='__pycache__' \
    --exclude='lib/python3.10/test' --exclude='*.a' bin include lib | tar -C "$context" -x
  cat > "$context/Dockerfile" <<DOCKERFILE
FROM $DEBIAN_IMAGE
COPY bin /usr/local/bin
COPY include /usr/local/include
COPY lib /usr/local/lib
# pyenv's build names its own prefix as the library path: /usr/local/lib is on
# the loader's default path instead; python3 and pip mean 3.10 here, as in python:3.10
RUN ldconfig && ln -sf python3.10 /usr/local/bin/python3 && ln -sf python3.10 /usr/local/bin/python \\
 && python3 -m ensurepip > /dev/null && python3 -c 'import ssl, sqlite3, ctypes, venv'
DOCKERFILE
  "$DOCKER" build -q --label "$IMAGE_LABEL" -t "$PYTHON310_IMAGE" "$context" > /dev/null
fi
echo "base images: $DEBIAN_IMAGE $PYTHON310_IMAGE"
