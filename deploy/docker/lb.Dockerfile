# The load balancer: nginx from Debian's packages, plus a watcher that keeps
# its upstreams to the replicas that answer their health check (readiness):
# Swarm's DNS (endpoint_mode: dnsrr) names every replica of a service, ready
# or not, and open-source nginx resolves upstream names only at start.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /var/lib/pine-lb pine \
 && mkdir -p /var/lib/pine-lb && chown pine:pine /var/lib/pine-lb
COPY deploy/nginx/nginx.conf /etc/pine-lb/nginx.conf
COPY deploy/nginx/watch_upstreams.sh /usr/local/bin/watch_upstreams
USER 10001
EXPOSE 8088
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8088/health"]
CMD ["watch_upstreams"]
