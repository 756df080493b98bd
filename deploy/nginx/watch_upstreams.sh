#!/usr/bin/env bash
# Runs nginx with upstreams made of the replicas that are ready, and keeps them
# so: every WATCH_INTERVAL_S seconds it resolves each tier's service name (with
# endpoint_mode: dnsrr, Swarm's DNS gives one address per running replica),
# keeps the addresses whose health check answers 2xx, and reloads nginx when
# that set changes. A new replica gets traffic once its model is loaded; a dead
# one stops getting it within a few seconds (nginx's own retry covers the gap).
# A ready replica whose check only times out is busy, not dead (a Rasa server
# answers its health check on the event loop that runs the turns): it keeps
# its traffic for up to BUSY_CHECKS_ALLOWED checks in a row. Dropping it at
# once made a saturated stack drop every Rasa replica and answer all with 503.
set -euo pipefail
state=/var/lib/pine-lb
interval=${WATCH_INTERVAL_S:-2}
busy_allowed=${BUSY_CHECKS_ALLOWED:-5}
mkdir -p "$state/busy"
# tier  service-name  port  health-path
tiers=(
  "rasa    ${RASA_SERVICE:-rasa}       5005 /"
  "actions ${ACTIONS_SERVICE:-actions} 5055 /health"
  "model   ${MODEL_SERVICE:-model}     8000 /health"
  "webchat ${WEBCHAT_SERVICE:-webchat} 8080 /health"
)

ready_addresses() {  # service port path
  local address status busy_file busy
  for address in $(getent ahostsv4 "$1" | awk '{print $1}' | sort -u); do
    busy_file=$state/busy/$address
    status=0
    curl -fsS -o /dev/null --max-time 2 "http://$address:$2$3" 2> /dev/null || status=$?
    if (( status == 0 )); then
      echo 0 > "$busy_file"; echo "$address"
    elif (( status == 28 )) && [[ -f $busy_file ]]; then
      # was ready, now only slow (curl 28: timed out)
      busy=$(( $(cat "$busy_file") + 1 ))
      if (( busy <= busy_allowed )); then echo "$busy" > "$busy_file"; echo "$address"
      else rm -f "$busy_file"; fi
    else
      rm -f "$busy_file"  # refused, an error status, or never ready: not ready
    fi
  done
}

upstream_block() {  # name balancing port addresses...
  local name=$1 balancing=$2 port=$3; shift 3
  echo "upstream $name {"
  [[ -n $balancing ]] && echo "  $balancing;"
  if (( $# )); then
    local address
    for address in "$@"; do echo "  server $address:$port max_fails=1 fail_timeout=5s;"; done
  else
    # no ready replica: a closed port, so that requests get the 503 reply
    echo "  server 127.0.0.1:9;"
  fi
  echo "}"
}

render() {
  local line tier service port path addresses health=""
  for line in "${tiers[@]}"; do
    read -r tier service port path <<< "$line"
    mapfile -t addresses < <(ready_addresses "$service" "$port" "$path")
    upstream_block "$tier" "$([[ $tier == rasa ]] && echo least_conn)" "$port" "${addresses[@]}"
    [[ $tier == rasa ]] && upstream_block rasa_socket "hash \$pine_affinity consistent" "$port" "${addresses[@]}"
    health+="\"$tier\": ${#addresses[@]}, "
  done
  echo "# ready: {${health%, }}"
}

write_if_changed() {
  local new=$state/upstreams.conf.new
  render > "$new"
  local ready; ready=$(sed -n 's/^# ready: //p' "$new")
  # written whole, then renamed: nginx never serves a half-written file
  echo "{\"status\": \"ok\", \"ready_replicas\": $ready}" > "$state/health.json.new"
  mv "$state/health.json.new" "$state/health.json"
  if cmp -s "$new" "$state/upstreams.conf"; then rm -f "$new"; return 1; fi
  mv "$new" "$state/upstreams.conf"
  echo "watch_upstreams: ready replicas $ready" >&2
}

write_if_changed || true
nginx -c /etc/pine-lb/nginx.conf
trap 'nginx -c /etc/pine-lb/nginx.conf -s quit; exit 0' TERM INT
while sleep "$interval" & wait $!; do
  [[ -s /tmp/nginx.pid ]] && kill -0 "$(cat /tmp/nginx.pid)" 2>/dev/null \
    || { echo "watch_upstreams: nginx stopped" >&2; exit 1; }
  if write_if_changed; then nginx -c /etc/pine-lb/nginx.conf -s reload; fi
done
