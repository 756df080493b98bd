# Redis 7 from Debian's packages: the lock store (AtomicRedisLockStore), Slack
# retries seen and failed verifications, shared by the replicas. Reachable
# only on the stack's own network.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
USER redis
EXPOSE 6379
VOLUME /data
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
  CMD ["redis-cli", "ping"]
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data", \
     "--appendonly", "yes", "--save", ""]
