# The action server: order look-ups, forms' validation and the LLM fallback.
# Only the Rasa SDK and what the actions import: no Rasa, no TensorFlow.
# Build with scripts/build_images.sh, which fills var/wheels/actions first.
ARG BASE_IMAGE=python:3.10-slim-bookworm
FROM ${BASE_IMAGE}

RUN --mount=type=bind,source=var/wheels/actions,target=/wheels \
    --mount=type=bind,source=requirements,target=/tmp/requirements \
    python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels --no-cache-dir -q \
      -r /tmp/requirements/actions.txt -c /tmp/requirements/rasa.lock.txt \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /app/var pine

WORKDIR /app
COPY defaults.env ./
COPY settings settings
COPY scripts/defaults.sh scripts/
COPY actions actions
COPY rasa_sdk_plugins rasa_sdk_plugins
# two standard-library modules the actions share with the Rasa server
COPY channels/__init__.py channels/identity.py channels/
COPY custom_components/__init__.py custom_components/order_numbers.py custom_components/
COPY knowledge knowledge
COPY knowledge_base knowledge_base
COPY deploy/docker/entrypoint.sh deploy/docker/healthcheck.py deploy/docker/
# every action module imports with only what this image has: else the build fails
RUN /opt/venv/bin/python -c "import importlib, pkgutil, actions; \
[importlib.import_module('actions.' + m.name) for m in pkgutil.iter_modules(actions.__path__)]" \
 && mkdir -p var && chown pine:pine var

# var/: the embedded knowledge base's cache (KNOWLEDGE_INDEX_PATH)
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PROJECT_ROOT=/app HOME=/app/var \
    SANIC_HOST=0.0.0.0
USER 10001
EXPOSE 5055
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python3", "deploy/docker/healthcheck.py", "http://127.0.0.1:5055/health"]
ENTRYPOINT ["deploy/docker/entrypoint.sh"]
# the order database's schema and demo orders first (idempotent; retried while
# the database starts), then the server
CMD ["sh", "-c", "python3 -m settings.time_budgets && python3 -m actions.seed --wait 120 && exec python3 -m rasa_sdk --actions actions --port \"$ACTION_SERVER_PORT\""]
