# syntax=docker/dockerfile:1
# The operator image: ghcr.io/ocr-crnn/ocr-operator:<version>
#
#   docker build -f docker/operator.Dockerfile -t ghcr.io/ocr-crnn/ocr-operator:0.1.0 .   (make image-operator)
#
# `uv sync --locked --extra operator` (exactly uv.lock) brings kopf and the Kubernetes client; of this repo's packages the operator
# needs only ocr_server.config (the server's config schema, the one contract it renders into each
# ConfigMap: pydantic + PyYAML, no Flask, no ONNX Runtime) and its own package operator/ocr_operator
# (a plain folder outside the installed packages, put on PYTHONPATH). Runs as UID/GID 10001.
# It runs `python -m ocr_operator` (kopf, configured from WATCH_NAMESPACES, PEERING_NAME, LOG_LEVEL, ...:
# see operator/ocr_operator/__main__.py), as the chart's Deployment does.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# As docker/server.Dockerfile: the pinned uv installs exactly uv.lock; build-local.sh mounts the host's
# uv and pip caches at these paths.
ARG UV_SYSTEM_CERTS=1
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    UV_CACHE_DIR=/root/.cache/uv \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src
COPY requirements/uv.txt /tmp/uv.txt
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install -q --require-hashes -r /tmp/uv.txt
ENV PATH=/opt/uv/bin:$PATH
COPY pyproject.toml uv.lock ./
# pyproject.toml names README.md as the package's long description; the image needs none, and a copy
# of the real one would make every documentation edit a new image (tests/cluster/images.py's hash).
RUN printf 'ocr-crnn: see https://github.com/ocr-crnn/ocr-crnn\n' > README.md
# Only the schema module of the server package: the operator must not carry (or import) the server.
COPY ocr_server/__init__.py ocr_server/config.py ./ocr_server/
RUN uv sync --locked --no-dev --extra operator --no-editable \
 && /opt/venv/bin/python3 -c "import kopf, kubernetes, ocr_server.config"

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="ocr-operator" \
      org.opencontainers.image.description="ocr-crnn kopf operator reconciling OcrService resources" \
      org.opencontainers.image.source="https://github.com/ocr-crnn/ocr-crnn" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --gid 10001 ocr \
 && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin ocr
COPY --from=build /opt/venv /opt/venv
COPY --chown=root:root operator/ocr_operator /app/operator/ocr_operator
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/operator \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Byte-compile at build time: the root file system is read-only at run time.
RUN python3 -m compileall -q /app/operator
USER 10001:10001
EXPOSE 8081
CMD ["python3", "-m", "ocr_operator"]
