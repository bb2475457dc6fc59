# syntax=docker/dockerfile:1
# The OCR inference server image: ghcr.io/ocr-crnn/ocr-server:<version>
#
#   docker build -f docker/server.Dockerfile -t ghcr.io/ocr-crnn/ocr-server:0.1.0 .   (make image-server)
#
# CPU only: ONNX Runtime runs the exported CRNN; no torch, no CUDA. Two stages: `build` makes a
# virtualenv with `uv sync --locked --extra server` (exactly uv.lock); the final stage copies that
# venv, the model weights from models/, and nothing else (no uv, no cache, no compiler, no source tree). Runs as UID/GID 10001 and works
# with a read-only root file system (writes only under /tmp, an emptyDir in the operator's pods).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# uv installs exactly uv.lock (`--locked`: a lock out of date with pyproject.toml fails the build), so
# the image runs the versions the tests ran. uv itself is the pinned, hash-checked one of
# requirements/uv.txt, in its own venv that never reaches the final stage.
# docker/build-local.sh mounts the host's uv and pip caches at the paths below, so a build on a
# machine that ran `make setup` downloads nothing; with `docker build` they are plain folders of
# this stage, dropped with it.
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
# Dependencies first, in their own layer: rebuilt only when the lock changes.
COPY pyproject.toml uv.lock ./
# pyproject.toml names README.md as the package's long description; the image needs none, and a copy
# of the real one would make every documentation edit a new image (tests/cluster/images.py's hash).
RUN printf 'ocr-crnn: see https://github.com/ocr-crnn/ocr-crnn\n' > README.md
RUN uv sync --locked --no-dev --extra server --no-install-project
# Then the server itself, not editable (training/ is deliberately not copied: it never ships here).
COPY ocr_server ./ocr_server
RUN uv sync --locked --no-dev --extra server --no-editable \
 && /opt/venv/bin/python3 -c "import ocr_server.config"

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="ocr-server" \
      org.opencontainers.image.description="ocr-crnn CPU OCR inference server (Flask + gunicorn + ONNX Runtime)" \
      org.opencontainers.image.source="https://github.com/ocr-crnn/ocr-crnn" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --gid 10001 ocr \
 && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin ocr
COPY --from=build /opt/venv /opt/venv
# The weights are baked in: nothing is downloaded at run time. Read-only for the server user.
COPY --chown=root:root models/ /app/models/
# gunicorn reads ./gunicorn.conf.py from its working directory by default.
COPY --chown=root:root ocr_server/gunicorn.conf.py /app/gunicorn.conf.py
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OCR__MODEL__MODELS_DIR=/app/models \
    TMPDIR=/tmp
USER 10001:10001
EXPOSE 8080
# For `docker run` only (Kubernetes uses the probes the operator writes: /ready, /health).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)"]
CMD ["gunicorn", "ocr_server.wsgi:app"]
