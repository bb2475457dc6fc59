"""A plain-HTTP front for the test API server that holds back the first LIST in chosen namespaces.

Why: the stalled-operator flake of issue 14 needs a served namespace to disappear while the
operator's first LIST there is still in flight.  On a loaded machine that happens now and then; here
it happens every time: a LIST (a GET without ``watch``) under ``/namespaces/<ns>/`` where ``<ns>``
contains ``marker`` is answered ``delay`` seconds late.  Everything else passes through unchanged
(watch streams included), with the admin client certificate of the test cluster, so the operator
talks to the real API server through it; only the timing of those LISTs is changed.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from tests.cluster.procs import free_ports

_NAMESPACED = re.compile(r"/namespaces/([^/]+)/")
_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


class SlowListProxy:
    """``with SlowListProxy(admin_kubeconfig, "-slowlist") as proxy:`` — use ``proxy.kubeconfig``."""

    def __init__(self, kubeconfig: Path | str, marker: str, delay: float = 60.0) -> None:
        config = yaml.safe_load(Path(kubeconfig).read_text(encoding="utf-8"))
        self.upstream = config["clusters"][0]["cluster"]["server"].rstrip("/")
        self._cluster = config["clusters"][0]["cluster"]
        self._user = config["users"][0]["user"]
        self.marker, self.delay = marker, delay
        self.port = free_ports(1)[0]
        self.delayed: list[str] = []  # the LIST paths held back
        self._tmp = tempfile.TemporaryDirectory(prefix="slow-list-proxy-")
        self.kubeconfig = Path(self._tmp.name) / "kubeconfig"
        self.kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "proxy", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}],
                    "users": [{"name": "proxy", "user": {}}],
                    "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
                    "current-context": "proxy",
                }
            ),
            encoding="utf-8",
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="slow-list-proxy", daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def _ssl(self) -> ssl.SSLContext:
        tmp = Path(self._tmp.name)
        files = {}
        for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            source = self._cluster if key.startswith("certificate-authority") else self._user
            path = tmp / key
            path.write_bytes(base64.b64decode(source[key]))
            files[key] = str(path)
        context = ssl.create_default_context(cafile=files["certificate-authority-data"])
        context.load_cert_chain(files["client-certificate-data"], files["client-key-data"])
        return context

    def _held_back(self, request: web.Request) -> bool:
        found = _NAMESPACED.search(request.path)
        return (
            request.method == "GET"
            and request.query.get("watch") not in ("true", "1")
            and found is not None
            and self.marker in found.group(1)
        )

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        if self._held_back(request):
            self.delayed.append(request.path)
            await asyncio.sleep(self.delay)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read()
        async with self._session.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=body or None
        ) as upstream:
            response = web.StreamResponse(
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP},
            )
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():  # watch streams: as they come
                await response.write(chunk)
            await response.write_eof()
            return response

    async def _start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self._ssl()), timeout=timeout)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        # Requests still running (held-back LISTs, watch streams): end them before the loop stops.
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def __enter__(self) -> SlowListProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *_: Any) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._tmp.cleanup()
