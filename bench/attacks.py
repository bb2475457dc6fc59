"""Replay the attacks of issue 13 against a local gunicorn, with concurrency, and report per attack.

For each attack: how the server answered (statuses, slowest answer), the worker's peak RSS during
the attack (``VmHWM``, reset before each attack through ``/proc/<pid>/clear_refs``; sampled RSS
where that is not allowed) and its growth over the idle worker, whether ``/health`` answered every
second within 5 s, and whether a normal OCR request sent mid-attack was served.

* ``progressive-jpeg``  --concurrency x a 6000x6000 progressive JPEG whose small AC scan is
  repeated 25,000 times (minutes of CPU each for a naive decoder), POST /api/v1/ocr
* ``recognize-bomb``    --concurrency x /api/v1/recognize with 64 copies of a 12 KB 1-bit PNG of
  6324x6324 (2.5 G pixels per request)
* ``recognize-fits``    --concurrency x /api/v1/recognize with one such PNG (40 M pixels: within the
  per-request budget; the worker budget admits what fits and sheds the rest)
* ``transparent-webp``  --concurrency x a lossless WebP of 6324x6324 RGBA (40 M pixels at 16 bytes
  a pixel to decode: the costliest kind of pixel we found)
* ``noise-page``        --concurrency x a 2000x2000 page of random grey noise (4 MB PNG: allowed, but
  ~10,000 marks and ~1,300 candidate lines for the line detector)
* ``stalled-uploads``   --stalled connections that send headers announcing 5 MB and then a few
  bytes, and stall (they are answered 408 at limits.bodyTimeoutSeconds); ``/health`` and the normal
  request are sent while they are open
* ``malformed``         every malformed request of ``bench/hostile.py`` --concurrency times

Only loopback traffic; every loop is bounded.

    nice python bench/attacks.py                      # the default config, 1 worker
    nice python bench/attacks.py --only stalled-uploads,malformed
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.hostile import (  # noqa: E402
    MALFORMED_REQUESTS,
    multipart_body,
    png_1bit_bomb,
    progressive_jpeg_bomb,
)
from bench.server import free_port, server_env, wait_ready  # noqa: E402

HEALTH_TIMEOUT_S = 5.0


# --------------------------------------------------------------------------- HTTP on raw sockets


@dataclass
class Answer:
    status: int  # 0: no answer (connection closed or timed out)
    seconds: float
    body: bytes = b""

    @property
    def json_shaped(self) -> bool:
        try:
            return set(json.loads(self.body)["error"]) == {"code", "message"}
        except (ValueError, KeyError, TypeError):
            return False


def send_raw(port: int, raw: bytes, timeout: float = 60.0) -> Answer:
    """Send ``raw`` bytes, read the answer until the server closes or ``timeout``."""
    t0 = time.perf_counter()
    chunks: list[bytes] = []
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        _read_answer(sock, chunks)
    return _parse(b"".join(chunks), time.perf_counter() - t0)


def _read_answer(sock: socket.socket, chunks: list[bytes]) -> None:
    """Append what the server sends to ``chunks`` until it closes or one whole response is in; the
    caller keeps what arrived even when the socket times out or is reset."""
    while data := sock.recv(65536):
        chunks.append(data)
        if _complete(b"".join(chunks)):
            return


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip() or 0)
    return False


def _parse(data: bytes, seconds: float) -> Answer:
    if not data.startswith(b"HTTP/"):
        return Answer(0, seconds)
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    return Answer(status, seconds, body)


def post(port: int, path: str, body: bytes, content_type: str, timeout: float = 600.0) -> Answer:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return send_raw(port, head + body, timeout)


def get(port: int, path: str, timeout: float = HEALTH_TIMEOUT_S) -> Answer:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return Answer(resp.status, time.perf_counter() - t0, resp.read())
    except OSError:
        return Answer(0, time.perf_counter() - t0)
    finally:
        conn.close()


# --------------------------------------------------------------------------- the worker's memory


def worker_pid(master: int) -> int:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
    pids = [int(p) for p in out.split()]
    if len(pids) != 1:
        raise RuntimeError(f"expected one worker, found {pids}")
    return pids[0]


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class PeakRss:
    """Peak RSS of a process over a block: the kernel's VmHWM after a reset, else sampling."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.can_reset = self._reset()
        self.sampled = status_kb(pid, "VmRSS")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _reset(self) -> bool:
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.sampled = max(self.sampled, status_kb(self.pid, "VmRSS"))
            except OSError:
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mb(self) -> float:
        try:
            hwm = status_kb(self.pid, "VmHWM") if self.can_reset else 0
        except OSError:
            hwm = 0
        return max(hwm, self.sampled) / 1024.0


# --------------------------------------------------------------------------- probes during an attack


@dataclass
class Probes:
    """``/health`` every second and one normal OCR request after ``normal_after_s``."""

    port: int
    normal_image: bytes
    normal_after_s: float = 1.0
    health: list[Answer] = field(default_factory=list)
    normal: Answer | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def _health_loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            self.health.append(get(self.port, "/health"))
            self._stop.wait(max(0.0, 1.0 - (time.perf_counter() - t0)))

    def _normal(self) -> None:
        if not self._stop.wait(self.normal_after_s):
            self.normal = post(self.port, "/api/v1/ocr", self.normal_image, "image/png", timeout=60)

    def __enter__(self) -> Probes:
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._health_loop, self._normal)]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.normal is None:  # the attack ended early: still send the normal request now
            self.normal_after_s = 0
        self._threads[1].join(90)
        self._stop.set()
        self._threads[0].join(10)


# --------------------------------------------------------------------------- the attacks


def concurrently(n: int, fn: Callable[[], Answer | list[Answer]]) -> list[Answer]:
    results: list[Answer] = []
    lock = threading.Lock()

    def run() -> None:
        out = fn()
        with lock:
            results.extend(out if isinstance(out, list) else [out])

    threads = [threading.Thread(target=run, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(900)
    return results


def stalled_upload(port: int, hold_s: float) -> Answer:
    """Headers announcing 5 MB, 1 KB of body, then nothing; wait for the server's answer."""
    t0 = time.perf_counter()
    head = (
        "POST /api/v1/ocr HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/png\r\n"
        f"Content-Length: {5 * 1024 * 1024}\r\n\r\n"
    ).encode()
    chunks: list[bytes] = []
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=hold_s) as sock:
        sock.sendall(head + b"\x89PNG\r\n\x1a\n" + b"\0" * 1016)
        _read_answer(sock, chunks)
    return _parse(b"".join(chunks), time.perf_counter() - t0)


def build_attacks(args: argparse.Namespace) -> dict[str, Callable[[int], list[Answer]]]:
    n = args.concurrency
    jpeg = progressive_jpeg_bomb(6000, 25_000)
    png = png_1bit_bomb(6324)
    bomb_body, bomb_type = multipart_body([png] * 64)
    fits_body, fits_type = multipart_body([png])
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (6324, 6324), (0, 0, 0, 128)).save(buf, format="WEBP", lossless=True)
    webp = buf.getvalue()
    import numpy as np

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (2000, 2000), dtype=np.uint8)).save(buf, format="PNG")
    noise = buf.getvalue()
    print(
        f"hostile files: progressive JPEG {len(jpeg) / 1e6:.2f} MB, 1-bit PNG {len(png) / 1e3:.1f} KB, "
        f"recognize bomb body {len(bomb_body) / 1e3:.0f} KB, WebP {len(webp) / 1e3:.1f} KB",
        flush=True,
    )
    return {
        "progressive-jpeg": lambda port: concurrently(n, lambda: post(port, "/api/v1/ocr", jpeg, "image/jpeg")),
        "recognize-bomb": lambda port: concurrently(n, lambda: post(port, "/api/v1/recognize", bomb_body, bomb_type)),
        "recognize-fits": lambda port: concurrently(n, lambda: post(port, "/api/v1/recognize", fits_body, fits_type)),
        "transparent-webp": lambda port: concurrently(n, lambda: post(port, "/api/v1/ocr", webp, "image/webp")),
        "noise-page": lambda port: concurrently(n, lambda: post(port, "/api/v1/ocr", noise, "image/png")),
        "stalled-uploads": lambda port: concurrently(args.stalled, lambda: stalled_upload(port, args.stall_s)),
        "malformed": lambda port: concurrently(
            n, lambda: [send_raw(port, raw, timeout=30) for raw in MALFORMED_REQUESTS.values()]
        ),
    }


def normal_page() -> bytes:
    import cv2
    import numpy as np

    page = np.full((400, 600), 255, dtype=np.uint8)
    for i in range(6):
        cv2.putText(page, f"LINE {i} TOTAL 12.{i}0", (30, 50 + i * 55), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 0, 2)
    _ok, data = cv2.imencode(".png", page)
    return bytes(data)


def summarise(name: str, answers: list[Answer], probes: Probes, peak_mb: float, before_mb: float) -> dict:
    statuses: dict[int, int] = {}
    for a in answers:
        statuses[a.status] = statuses.get(a.status, 0) + 1
    errors = [a for a in answers if a.status >= 400]
    health_ok = bool(probes.health) and all(h.status == 200 and h.seconds <= HEALTH_TIMEOUT_S for h in probes.health)
    return {
        "attack": name,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "json_errors": all(a.json_shaped for a in errors),
        "slowest_answer_s": round(max((a.seconds for a in answers), default=0.0), 2),
        "rss_before_mb": round(before_mb),
        "peak_rss_mb": round(peak_mb),
        "rss_growth_mb": round(peak_mb - before_mb),
        "health_probes": len(probes.health),
        "health_max_s": round(max((h.seconds for h in probes.health), default=0.0), 2),
        "health_ok": health_ok,
        "normal_request": probes.normal.status if probes.normal else None,
        "normal_s": round(probes.normal.seconds, 2) if probes.normal else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=4, help="hostile requests at once (maxConcurrentRequests)")
    ap.add_argument("--stalled", type=int, default=10, help="stalled uploads at once")
    ap.add_argument("--stall-s", type=float, default=45.0, help="how long a stalled upload waits for an answer")
    ap.add_argument("--only", default="", help="comma-separated attack names")
    ap.add_argument("--threads", type=int, default=2, help="inference threads of the worker")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--log", type=Path, default=Path("/tmp/ocr-attacks-server.log"))
    args = ap.parse_args(argv)

    attacks = build_attacks(args)
    chosen = [a for a in args.only.split(",") if a] or list(attacks)
    port = free_port()
    cmd = [
        sys.executable, "-m", "gunicorn", "-c", str(REPO_ROOT / "ocr_server" / "gunicorn.conf.py"),
        "--bind", f"127.0.0.1:{port}", "ocr_server.wsgi:app",
    ]  # fmt: skip
    env = server_env(workers=1, threads=args.threads)
    env["OCR__SERVER__LOG_LEVEL"] = "info"
    with args.log.open("wb") as sink:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=sink, stderr=sink, start_new_session=True)
    results = []
    idle_mb = 0.0
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        pid = worker_pid(proc.pid)
        normal = normal_page()
        post(port, "/api/v1/ocr", normal, "image/png")  # warm
        idle_mb = status_kb(pid, "VmRSS") / 1024.0
        master_mb = status_kb(proc.pid, "VmRSS") / 1024.0
        print(f"server on :{port}, worker pid {pid}, idle RSS: worker {idle_mb:.0f} MB, master {master_mb:.0f} MB")
        for name in chosen:
            time.sleep(1.0)
            before_mb = status_kb(pid, "VmRSS") / 1024.0  # freed memory is not always given back to the OS
            with PeakRss(pid) as rss, Probes(port, normal) as probes:
                answers = attacks[name](port)
            row = summarise(name, answers, probes, rss.peak_mb(), before_mb)
            results.append(row)
            print(json.dumps(row), flush=True)
            if proc.poll() is not None or worker_pid(proc.pid) != pid:
                print("the worker died or was replaced", flush=True)
                pid = worker_pid(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    print()
    print(f"idle worker RSS {idle_mb:.0f} MB; RSS figures are the one worker's (VmHWM)")
    print("| attack | answers | slowest s | worker RSS MB before → peak | /health max s, all ok | normal request |")
    print("|---|---|---|---|---|---|")
    for r in results:
        answers = ", ".join(f"{v}x {k}" for k, v in r["statuses"].items()) + (" JSON" if r["json_errors"] else "")
        print(
            f"| {r['attack']} | {answers} | {r['slowest_answer_s']} | {r['rss_before_mb']} → {r['peak_rss_mb']} "
            f"| {r['health_max_s']}, {'yes' if r['health_ok'] else 'NO'} | {r['normal_request']} in {r['normal_s']} s |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
