# The ambience controller (and simulator) image: docs/docker.md.
#   docker build -t ambience:local .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/ambience:0.1.0 --push .
# Multi-arch: the base is the official Python image (a manifest list: amd64, arm64, arm/v7, ...) and nothing
# arch-specific is downloaded; pip takes each dependency's wheel for the target platform.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# -- build: the package and its dependencies into a virtual environment ----------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/ambience
WORKDIR /src
# What `pip install .` needs, and nothing else (pyproject.toml's packages; README.md is its `readme`).
COPY pyproject.toml README.md ./
COPY profiles ./profiles
COPY devices ./devices
COPY controller ./controller
COPY firmware_sim ./firmware_sim
COPY api ./api
RUN /opt/ambience/bin/pip install . \
    && /opt/ambience/bin/ambience --help >/dev/null

# -- runtime: the same base, the virtual environment, an unprivileged user -------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="ambience" \
      org.opencontainers.image.description="Edge controller that turns a venue's room into the mood of the community that just walked in" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/ambience/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AMBIENCE_HEALTH_URL=http://127.0.0.1:8000/healthz
# A fixed uid/gid, so a bind-mounted /data can be chowned to it on the host (chown 10001:10001 DIR).
RUN groupadd --system --gid 10001 ambience \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin ambience \
    && mkdir -p /data /config \
    && chown 10001:10001 /data
COPY --from=build /opt/ambience /opt/ambience
USER 10001:10001
WORKDIR /data
# The event record, profiles and presence (SQLite: store.path /data/ambience.db in the venue config).
VOLUME ["/data"]
# The HTTP API and dashboard (api.port in the venue config; api.host must be 0.0.0.0 in a container).
EXPOSE 8000
# No curl in a slim image: Python's urllib. 200 while the API answers, even with the broker down (/healthz says
# which); exit 1 on any error. The simulator has no HTTP API: docker-compose.yml disables this check for it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['AMBIENCE_HEALTH_URL'], timeout=4)"]
# SIGTERM (docker stop) stops the API and the service in order; the record is already in SQLite.
STOPSIGNAL SIGTERM
ENTRYPOINT ["ambience"]
CMD ["run", "--config", "/config/venue.yaml"]
