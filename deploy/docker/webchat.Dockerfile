# The web chat page (webchat/serve.py, standard library only) with the widget's
# bundle, which scripts/setup_webchat.sh installs from npm before the build.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /app/var pine
WORKDIR /app
COPY defaults.env ./
COPY settings settings
COPY scripts/defaults.sh scripts/
COPY channels/__init__.py channels/webchat_session.py channels/
COPY webchat/serve.py webchat/
COPY webchat/static webchat/static
COPY deploy/docker/entrypoint.sh deploy/docker/healthcheck.py deploy/docker/
RUN mkdir -p var && chown pine:pine var
ENV PYTHONUNBUFFERED=1 PROJECT_ROOT=/app HOME=/app/var WEBCHAT_HOST=0.0.0.0
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "deploy/docker/healthcheck.py", "http://127.0.0.1:8080/health"]
ENTRYPOINT ["deploy/docker/entrypoint.sh"]
CMD ["python3", "webchat/serve.py"]
