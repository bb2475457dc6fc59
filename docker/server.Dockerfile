# syntax=docker/dockerfile:1
# The OCR inference server image: ghcr.io/ocr-crnn/ocr-server:<version>
#
#   docker build -f docker/server.Dockerfile -t ghcr.io/ocr-crnn/ocr-server:0.1.0 .   (make image-server)
#
# CPU only: ONNX Runtime runs the exported CRNN; no torch, no CUDA. Two stages: `build` makes a
# virtualenv with `pip install .[server]`; the final stage copies that venv, the model weights from
# models/, and nothing else (no pip cache, no compiler, no source tree). Runs as UID/GID 10001 and works
# with a read-only root file system (writes only under /tmp, an emptyDir in the operator's pods).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes. The empty
# package lets pip resolve `.[server]` before the real source is copied.
COPY pyproject.toml README.md ./
RUN mkdir ocr_server && touch ocr_server/__init__.py \
 && pip install ".[server]" \
 && pip uninstall --yes ocr-crnn
# Then the server itself (training/ is deliberately not copied: it never ships in this image).
COPY ocr_server ./ocr_server
RUN pip install --no-deps . \
 && python3 -c "import ocr_server.config" \
 && pip uninstall --yes pip setuptools

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
