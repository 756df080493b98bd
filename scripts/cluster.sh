#!/usr/bin/env bash
# cluster.sh up|down|status|prepare: the Docker Swarm stack of deploy/stack.yml on this
# machine (make cluster / make cluster-down). Both are idempotent.
#
#   up      installs Docker Engine (Debian's docker.io) if missing, starts it and
#           a one-node swarm if none runs, builds the images, creates the
#           stack's secrets, keeps the load balancer's port to PINE_LB_HOST, and
#           deploys; returns once every tier has a ready replica.
#   down    removes what up created: the stack, its networks, volumes and
#           secrets, the firewall rules, the swarm and the daemon if up started
#           them, and the images too with REMOVE_IMAGES=1.
#   status  the services, their replicas and the load balancer's view.
#   prepare Docker and the images that need no trained model (CI starts it early).
#
# Settings (defaults.env, "the Docker Swarm stack"): PINE_LB_HOST and
# PINE_LB_PORT, where the load balancer listens; PINE_PUBLIC_URL, the address
# browsers open; PINE_IMAGE_TAG; PINE_STACK. deploy/stack.yml reads them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/docker_env.sh  # and scripts/defaults.sh

STACK=$PINE_STACK
LB_HOST=$PINE_LB_HOST
LB_PORT=$PINE_LB_PORT
# on loopback, the page may also be opened as localhost
PINE_PUBLIC_URL_ALIAS=""
if [[ $LB_HOST == 127.0.0.1 ]]; then PINE_PUBLIC_URL_ALIAS=http://localhost:$LB_PORT; fi
export PINE_PUBLIC_URL_ALIAS
# what up changed on the machine, so that down undoes exactly that
state=var/docker/cluster
READY_TIMEOUT_S=${CLUSTER_READY_TIMEOUT_S:-900}
FIREWALL_COMMENT="pine-cluster-$STACK"

log() { echo "==> $*"; }
# the load balancer as this machine reaches it
lb_url() { echo "http://${LB_HOST/#0.0.0.0/127.0.0.1}:$LB_PORT"; }

install_docker() {
  [[ -x $DOCKER ]] && return
  log "installing Docker Engine (Debian's docker.io)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap iptables > /dev/null
}

start_daemon() {
  "$DOCKER" info > /dev/null 2>&1 && return
  mkdir -p "$state"
  log "starting the Docker daemon (log: var/docker/dockerd.log)"
  # no systemd on these machines; down stops the daemon it started here
  nohup /usr/sbin/dockerd > var/docker/dockerd.log 2>&1 &
  echo $! > "$state/dockerd.pid"
  for _ in $(seq 60); do "$DOCKER" info > /dev/null 2>&1 && return; sleep 1; done
  echo "the Docker daemon did not start: var/docker/dockerd.log" >&2; exit 1
}

start_swarm() {
  [[ $("$DOCKER" info --format '{{.Swarm.LocalNodeState}}') == active ]] && return
  log "starting a one-node swarm"
  "$DOCKER" swarm init --advertise-addr 127.0.0.1 > /dev/null
  touch "$state/swarm-created"
}

create_secret() {  # name value
  "$DOCKER" secret inspect "$1" > /dev/null 2>&1 && return
  # a secret can't be empty: a lone newline reads as an empty setting
  printf '%s\n' "$2" | "$DOCKER" secret create "$1" - > /dev/null
}

create_secrets() {
  local password; password=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
  if ! "$DOCKER" secret inspect pine_tracker_store_password > /dev/null 2>&1; then
    # the database URL carries the same password: make both together
    "$DOCKER" secret rm pine_database_url > /dev/null 2>&1 || true
    create_secret pine_tracker_store_password "$password"
    create_secret pine_database_url "postgresql+psycopg2://postgres:$password@postgres:5432/pinecrest"
  fi
  create_secret pine_webchat_session_secret "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
  # Slack stays off (404) unless both are set when the stack is first deployed
  create_secret pine_slack_bot_token "${SLACK_BOT_TOKEN:-}"
  create_secret pine_slack_signing_secret "${SLACK_SIGNING_SECRET:-}"
}

# Swarm publishes host-mode ports on every interface; keep the load balancer
# to PINE_LB_HOST (loopback by default). One rule in the raw table, before
# Docker's DNAT, in a table Docker leaves alone; it carries a comment, and
# down deletes exactly the rules with it.
restrict_port() {
  [[ $LB_HOST == 0.0.0.0 ]] && return
  iptables -t raw -S PREROUTING | grep -q -- "$FIREWALL_COMMENT" && return
  log "keeping port $LB_PORT to $LB_HOST (iptables raw PREROUTING, comment $FIREWALL_COMMENT)"
  iptables -t raw -I PREROUTING -p tcp --dport "$LB_PORT" ! -d "$LB_HOST" \
    -m comment --comment "$FIREWALL_COMMENT" -j DROP
}

unrestrict_port() {
  local rule
  { iptables -t raw -S PREROUTING 2> /dev/null || true; } | { grep -- "$FIREWALL_COMMENT" || true; } |
    sed 's/^-A /-D /' | while read -r rule; do eval "iptables -t raw $rule"; done
}

# Images keep their tag when rebuilt, and `docker stack deploy` leaves a
# service alone when its spec is unchanged: roll the tiers whose image changed.
roll_changed_tiers() {
  local tier image container
  for tier in "${TIERS[@]}"; do
    image=$("$DOCKER" image inspect --format '{{.Id}}' "pine/$tier:$IMAGE_TAG")
    for container in $("$DOCKER" ps -q --filter "label=com.docker.swarm.service.name=${STACK}_$tier"); do
      if [[ $("$DOCKER" inspect --format '{{.Image}}' "$container") != "$image" ]]; then
        log "rolling ${STACK}_$tier onto its new image"
        "$DOCKER" service update --force --detach "${STACK}_$tier" > /dev/null
        break
      fi
    done
  done
}

# every service runs the replicas it asks for and no rolling update is under way
converged() {
  local service replicas state
  while read -r service replicas; do
    [[ ${replicas%% *} =~ ^([0-9]+)/([0-9]+)$ && ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]] || return 1
    state=$("$DOCKER" service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$service")
    [[ $state == updating || $state == rollback_started ]] && return 1
  done < <("$DOCKER" service ls --filter "label=com.docker.stack.namespace=$STACK" \
             --format '{{.Name}} {{.Replicas}}')
  return 0
}

wait_until_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT_S)) health=""
  log "waiting for every replica and a ready one of every tier (up to $READY_TIMEOUT_S s)"
  while (( SECONDS < deadline )); do
    if ! converged; then sleep 5; continue; fi
    health=$(curl -fsS --max-time 3 "$(lb_url)/health" 2> /dev/null || true)
    if [[ -n $health ]] && python3 - "$health" <<'PY'
import json, sys
ready = json.loads(sys.argv[1])["ready_replicas"]
sys.exit(0 if all(ready.get(tier, 0) >= 1 for tier in ("rasa", "actions", "model", "webchat")) else 1)
PY
    then
      log "ready: $health"; return
    fi
    sleep 5
  done
  echo "the stack was not ready within $READY_TIMEOUT_S s; last health: ${health:-none}" >&2
  "$DOCKER" stack ps "$STACK" --no-trunc >&2 || true
  exit 1
}

# Docker and the images that need no trained model: scripts/test.sh runs this
# in the background while the other stages run
prepare() {
  install_docker
  start_daemon
  scripts/build_images.sh rasa-environment actions model webchat lb postgres redis
}

up() {
  install_docker
  start_daemon
  start_swarm
  scripts/build_images.sh
  create_secrets
  restrict_port
  log "deploying stack $STACK (deploy/stack.yml)"
  # (local images have no registry digest: Docker says so for each, harmlessly)
  "$DOCKER" stack deploy --prune -c deploy/stack.yml "$STACK" 2>&1 | grep -v -e "could not be accessed" \
    -e "its digest" -e "independently" -e "different nodes" -e "versions of the image" || true
  roll_changed_tiers
  wait_until_ready
  log "the assistant: $PINE_PUBLIC_URL (web chat page), $PINE_PUBLIC_URL/webhooks/rest/webhook (REST)"
}

wait_for() {  # description command...
  local description=$1; shift
  for _ in $(seq 120); do "$@" && return; sleep 1; done
  echo "gave up waiting for $description" >&2; return 1
}

stack_gone() {
  [[ -z $("$DOCKER" ps -aq --filter "label=com.docker.stack.namespace=$STACK") ]] &&
    [[ -z $("$DOCKER" network ls -q --filter "label=com.docker.stack.namespace=$STACK") ]]
}

down() {
  # the images live in the daemon's storage: start it (and stop it again) to remove them
  if [[ -n ${REMOVE_IMAGES:-} && -x $DOCKER ]]; then start_daemon; fi
  if [[ ! -x $DOCKER ]] || ! "$DOCKER" info > /dev/null 2>&1; then
    unrestrict_port 2> /dev/null || true
    log "no Docker daemon runs: nothing to remove"; return
  fi
  if [[ $("$DOCKER" info --format '{{.Swarm.LocalNodeState}}') == active ]]; then
    log "removing stack $STACK"
    "$DOCKER" stack rm "$STACK" > /dev/null 2>&1 || true
    wait_for "the stack's containers and networks to go" stack_gone
    "$DOCKER" secret ls -q --filter name=pine_ | xargs -r "$DOCKER" secret rm > /dev/null
  fi
  "$DOCKER" volume ls -q --filter "label=com.docker.stack.namespace=$STACK" | xargs -r "$DOCKER" volume rm > /dev/null
  unrestrict_port
  if [[ -n ${REMOVE_IMAGES:-} ]]; then
    log "removing the images it built"
    local tier
    for tier in "${TIERS[@]}"; do "$DOCKER" rmi -f "pine/$tier:$IMAGE_TAG" > /dev/null 2>&1 || true; done
    "$DOCKER" rmi -f "$PYTHON310_IMAGE" "$DEBIAN_IMAGE" > /dev/null 2>&1 || true
    "$DOCKER" image prune -f --filter "label=$IMAGE_LABEL" > /dev/null
    "$DOCKER" builder prune -af > /dev/null 2>&1 || true
    rm -rf var/wheels
  fi
  if [[ -f $state/swarm-created ]]; then
    log "leaving the swarm up started"
    "$DOCKER" swarm leave --force > /dev/null
    # swarm init made this bridge network; leaving does not remove it
    "$DOCKER" network rm docker_gwbridge > /dev/null 2>&1 || true
    rm -f "$state/swarm-created"
  fi
  if [[ -f $state/dockerd.pid ]]; then
    log "stopping the Docker daemon up started"
    kill "$(cat "$state/dockerd.pid")" 2> /dev/null || true
    wait_for "the Docker daemon to stop" bash -c "! kill -0 $(cat "$state/dockerd.pid") 2>/dev/null"
    rm -f "$state/dockerd.pid"
    remove_daemon_traces
  fi
}

# What a Docker daemon leaves behind when it stops: its iptables chains and
# rules, and its bridge. Removed only when up started that daemon.
remove_daemon_traces() {
  local table
  for table in filter nat; do
    iptables-save -t "$table" | grep -v -e DOCKER -e docker0 -e docker_gwbridge | iptables-restore -T "$table"
  done
  ip link delete docker0 2> /dev/null || true
  ip link delete docker_gwbridge 2> /dev/null || true
}

status() {
  "$DOCKER" stack services "$STACK"
  curl -fsS --max-time 3 "$(lb_url)/health" || echo "load balancer: not answering"
}

case ${1:-} in
  prepare) prepare ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status|prepare" >&2; exit 2 ;;
esac
