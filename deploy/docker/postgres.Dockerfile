# PostgreSQL 15 from Debian's packages: the shared tracker store (database
# rasa) and the order database (pinecrest). Password auth; the password is the
# secret TRACKER_STORE_PASSWORD, mounted as a file, never in the environment.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /run/postgresql
COPY deploy/docker/postgres-start.sh /usr/local/bin/postgres-start
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
VOLUME /var/lib/postgresql/data
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=5 \
  CMD ["pg_isready", "-q", "-h", "127.0.0.1"]
CMD ["postgres-start"]
