"""``python -m ocr_operator``: run the operator with defaults taken from the environment.

Equivalent to ``kopf run -m ocr_operator.handlers`` with flags, for images and local runs where
environment variables are easier than a command line:

================== ==================================================================================
WATCH_NAMESPACES   comma-separated namespaces to serve; empty: cluster-wide
PEERING_NAME       kopf peering object for HA (KopfPeering per namespace or ClusterKopfPeering);
                   empty: standalone (then run ONE replica only)
OPERATOR_PRIORITY  this replica's peering priority; default: derived from POD_IP, else random.
                   Replicas must differ: the highest live priority works, the others wait
LIVENESS_ENDPOINT  kopf's health endpoint; default http://0.0.0.0:8081/healthz
STALL_SECONDS      the health endpoint fails (HTTP 500) when a watch event waited this long for its
                   handlers (kopf stopped processing; see ocr_operator.watchdog); default 60, 0: off
LOG_LEVEL          debug, info (default) or warning
LOG_FORMAT         plain (default), full or json
================== ==================================================================================

``kill -USR1 <pid>`` prints every thread's stack to stderr (``faulthandler``): where a stuck operator sits.
"""

from __future__ import annotations

import faulthandler
import ipaddress
import logging
import os
import random
import signal

import kopf

log = logging.getLogger("ocr_operator")

DEFAULT_LIVENESS = "http://0.0.0.0:8081/healthz"


def watch_namespaces(environ: os._Environ[str] | dict[str, str]) -> list[str]:
    """Namespaces from ``WATCH_NAMESPACES``; an empty list means cluster-wide."""
    return [ns.strip() for ns in environ.get("WATCH_NAMESPACES", "").split(",") if ns.strip()]


def peering_priority(environ: os._Environ[str] | dict[str, str]) -> int:
    """A priority distinct per replica: equal priorities would make two replicas work at once."""
    if environ.get("OPERATOR_PRIORITY"):
        return int(environ["OPERATOR_PRIORITY"])
    if environ.get("POD_IP"):
        return int(ipaddress.ip_address(environ["POD_IP"])) % 2**31
    return random.SystemRandom().randrange(1, 2**31)


def main() -> None:
    environ = os.environ
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    level = environ.get("LOG_LEVEL", "info").lower()
    kopf.configure(
        verbose=level == "debug",
        quiet=level == "warning",
        log_format=kopf.LogFormat[environ.get("LOG_FORMAT", "plain").upper()],
    )
    import ocr_operator.handlers  # noqa: F401  (registers the handlers)

    namespaces = watch_namespaces(environ)
    peering = environ.get("PEERING_NAME", "").strip()
    priority = peering_priority(environ)
    log.info(
        "starting: namespaces=%s peering=%s priority=%d",
        ",".join(namespaces) or "<cluster-wide>",
        peering or "<standalone>",
        priority,
    )
    kopf.run(
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=not peering,
        peering_name=peering or None,
        priority=priority,
        liveness_endpoint=environ.get("LIVENESS_ENDPOINT", DEFAULT_LIVENESS),
    )


if __name__ == "__main__":
    main()
