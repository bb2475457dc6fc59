# A Redis image for the real-node tests' OcrService with `spec.jobs.redis.deploy: true`.
#
# Why: the operator's default Redis image (docker.io/library/redis) comes from a registry, and none
# is reachable here. Debian's redis-server on the same debootstrap base as the project's images
# (docker/build-local.sh --base) stands in for it: the operator's Redis pod runs `redis-server ARGS`
# and probes with `redis-cli ping`, both on PATH here, as UID 999 with a read-only root file system
# (it writes only its /data volume). Built by tests/cluster/images.py; never shipped.
ARG PYTHON_IMAGE
FROM ${PYTHON_IMAGE}
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && redis-server --version
USER 999:999
CMD ["redis-server"]
