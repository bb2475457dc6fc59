"""The job store: job records, uploaded pages and per-page results in Redis, all with a TTL.

Layout (``{id}`` is a Redis Cluster hash tag, so one job's keys share a slot and the Lua scripts
may touch them together):

* ``ocr:job:{id}``          hash: ``total``, ``created``, ``started``, ``finished``, ``cancelled``, ``failed``,
                            ``submitting`` (until every page task is queued), ``model`` (``name:version``
                            pinned at submission; absent in records from before models were pinned)
* ``ocr:job:{id}:data``     hash: page index → image bytes (a page's bytes go once its result is in)
* ``ocr:job:{id}:results``  hash: page index → result JSON, written with ``HSETNX``: first result wins
* ``ocr:job:{id}:attempts`` hash: page index → how many times a worker started the page
* ``ocr:idem:<sha256>``     the job an ``Idempotency-Key`` created, and a fingerprint of its files
* ``ocr:client:<addr>``     sorted set of a client's unexpired jobs (``jobs.maxJobsPerClient``)
* ``ocr:epoch``             random tag of this Redis *data set*, without TTL

Why the epoch: a job id starts with the epoch it was created in.  When Redis restarts without
persistence, every job and queued task is gone and a new epoch is drawn; a job id from the old
epoch is then answered as ``failed`` (``job_lost``) instead of 404, so a client polling it stops
instead of waiting forever.  With persistence (AOF) the epoch survives and so do the jobs.

Knows nothing of Flask or Celery: the API and the task both call it.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import redis

from .errors import IdempotencyKeyReused, JobExpired, JobFinished, JobNotFound, TooManyJobs
from .pinning import PinnedModel

EPOCH_KEY = "ocr:epoch"
ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
# A job still marked ``submitting`` this long after its creation, with no page started, lost its
# server between storing the pages and queueing them (a pod killed mid-request): it is reported
# failed instead of staying ``queued`` forever.
SUBMIT_GRACE_SECONDS = 60.0

# KEYS: job, results, data, attempts.  ARGV: index, result JSON, failed (0|1), now, ttl.
# Returns -1 job gone (expired or lost), -2 cancelled, 0 a result was already there, 1 recorded,
# 2 recorded and the job is now finished.
_RECORD_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[1], 'cancelled') == 1 then return -2 end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[1], 'failed', 1) end
local done = redis.call('HLEN', KEYS[2])
local total = tonumber(redis.call('HGET', KEYS[1], 'total'))
if done >= total and redis.call('HEXISTS', KEYS[1], 'finished') == 0 then
  redis.call('HSET', KEYS[1], 'finished', ARGV[4])
  for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
  return 2
end
redis.call('PEXPIRE', KEYS[2], redis.call('PTTL', KEYS[1]))
return 1
"""

# KEYS: job, data.  ARGV: now.  Returns -1 gone, 0 already finished, 1 cancelled now.
_CANCEL_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[1], 'finished') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'cancelled', ARGV[1], 'finished', ARGV[1])
redis.call('DEL', KEYS[2])
return 1
"""


def job_key(job_id: str) -> str:
    return f"ocr:job:{{{job_id}}}"


def _keys(job_id: str) -> tuple[str, str, str, str]:
    """(job, results, data, attempts): the order the Lua scripts expect."""
    base = job_key(job_id)
    return base, f"{base}:results", f"{base}:data", f"{base}:attempts"


def redis_url_with_password(url: str, password: str | None) -> str:
    """The configured URL with the password from the environment (a Secret) put in, if any."""
    if not password:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"))


def fingerprint(pages: Sequence[bytes], model: PinnedModel | None = None) -> str:
    """What an Idempotency-Key is bound to: the files, in order, and the model the job reads with.

    The model is part of it because the same files read with another model are another job: a key
    reused for them is refused (422) like a key reused for other files, not answered with the job
    of the first model.  Without a model the digest is the files' alone, as before models were pinned."""
    digest = hashlib.sha256()
    if model is not None:
        digest.update(f"model={model}\n".encode())
    for data in pages:
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def _iso(ts: str | bytes | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(float(ts), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(start: str | bytes | None, end: str | bytes | None) -> float | None:
    if start is None or end is None:
        return None
    return round((float(end) - float(start)) * 1000.0, 1)


def _text(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


@dataclass(frozen=True)
class PageWork:
    """What a worker needs to run one page, or why it should not (``skip``)."""

    data: bytes | None
    skip: str | None = None  # "gone", "cancelled", "done", "lost" (job there, bytes not)
    attempt: int = 0
    model: PinnedModel | None = None  # None: a record from before models were pinned (the default)
    waited: float = 0.0  # seconds since the job was submitted


class JobStore:
    """Every Redis operation of the job API and the page task."""

    def __init__(self, client: redis.Redis, ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self.redis = client
        self.ttl = ttl_seconds
        self.clock = clock
        self._record = client.register_script(_RECORD_LUA)
        self._cancel = client.register_script(_CANCEL_LUA)

    @classmethod
    def from_url(cls, url: str, ttl_seconds: int) -> JobStore:
        """A store on its own connection pool; short timeouts so a dead Redis answers 503, not a hang."""
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10, health_check_interval=30)
        return cls(client, ttl_seconds)

    # -- ids and the data-set epoch ------------------------------------------------------------

    def epoch(self) -> str:
        """This Redis data set's tag (drawn on first use, kept without TTL)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(EPOCH_KEY, secrets.token_hex(4), nx=True)
        pipe.get(EPOCH_KEY)
        return pipe.execute()[1].decode()

    def _new_id(self, now: float) -> str:
        return f"{self.epoch()}{int(now):08x}{secrets.token_hex(8)}"

    # -- submission ----------------------------------------------------------------------------

    def _replay(self, idem_key: str, fp: str) -> str | None:
        raw = self.redis.get(idem_key)
        if raw is None:
            return None
        job_id, _, stored_fp = raw.decode().partition("|")
        if stored_fp != fp:
            raise IdempotencyKeyReused()
        return job_id

    def create(
        self,
        pages: Sequence[bytes],
        *,
        client: str | None = None,
        idempotency_key: str | None = None,
        max_jobs_per_client: int = 0,
        fp: str | None = None,
        model: PinnedModel | None = None,
    ) -> tuple[str, bool]:
        """Store a new job's pages; ``(id, True)``.  With an ``Idempotency-Key`` already used for the
        same files and model, ``(that job's id, False)``: nothing is stored and nothing must be queued.

        ``fp``: the :func:`fingerprint` of the pages and ``model`` when the caller has computed it
        already (the API does, off the gevent hub); only needed with an ``idempotency_key``.
        ``model``: the exact model every page reads with (the API always pins one)."""
        if fp is None:
            fp = fingerprint(pages, model) if idempotency_key else ""
        idem_key = f"ocr:idem:{hashlib.sha256(idempotency_key.encode()).hexdigest()}" if idempotency_key else None
        if idem_key and (existing := self._replay(idem_key, fp)):
            return existing, False
        now = self.clock()
        client_key = f"ocr:client:{client}" if client and max_jobs_per_client else None
        if client_key:
            self.redis.zremrangebyscore(client_key, "-inf", now)
            if self.redis.zcard(client_key) >= max_jobs_per_client:
                raise TooManyJobs(f"this client holds {max_jobs_per_client} unexpired jobs, the most allowed")
        job_id = self._new_id(now)
        job, _results, data, _attempts = _keys(job_id)
        pipe = self.redis.pipeline(transaction=True)
        record: dict[str, str | int] = {"total": len(pages), "created": repr(now), "failed": 0, "submitting": 1}
        if model is not None:
            record["model"] = str(model)
        pipe.hset(job, mapping=record)
        pipe.hset(data, mapping={str(i): page for i, page in enumerate(pages)})
        pipe.expire(job, self.ttl)
        pipe.expire(data, self.ttl)
        if client_key:
            pipe.zadd(client_key, {job_id: now + self.ttl})
            pipe.expire(client_key, self.ttl)
        pipe.execute()
        if idem_key and not self.redis.set(idem_key, f"{job_id}|{fp}", nx=True, ex=self.ttl):
            # a concurrent request with the same key won the race: answer with its job
            self.discard(job_id)
            winner = self._replay(idem_key, fp)
            if winner:
                return winner, False
        return job_id, True

    def mark_queued(self, job_id: str) -> None:
        """Every page task of the job is on the queue (see ``SUBMIT_GRACE_SECONDS``)."""
        self.redis.hdel(job_key(job_id), "submitting")

    def discard(self, job_id: str, idempotency_key: str | None = None) -> None:
        """Remove a job whose tasks could not be queued (so it cannot hang in ``queued``)."""
        keys = list(_keys(job_id))
        if idempotency_key:
            keys.append(f"ocr:idem:{hashlib.sha256(idempotency_key.encode()).hexdigest()}")
        self.redis.delete(*keys)

    # -- reading and cancelling ----------------------------------------------------------------

    def _missing(self, job_id: str) -> dict[str, Any]:
        """No record.  From this data set (same epoch): expired (410) once its TTL has run out, else
        never existed (404).  From an earlier epoch and younger than the TTL: lost when Redis
        restarted without persistence, answered as a ``failed`` job so pollers stop.  Else 404."""
        if not ID_PATTERN.match(job_id):
            raise JobNotFound()
        created, now = int(job_id[8:16], 16), self.clock()
        within_ttl = now - self.ttl <= created <= now + 60
        if job_id[:8] == self.epoch():
            if created + self.ttl < now:
                raise JobExpired()
            raise JobNotFound()
        if not within_ttl:
            raise JobNotFound()
        return {
            "id": job_id,
            "status": "failed",
            "error": {
                "code": "job_lost",
                "message": "the job store (Redis) restarted without persistence and lost this job; submit it again",
            },
        }

    def get(self, job_id: str) -> dict[str, Any]:
        """The job as the API answers it; per-page results once it has finished."""
        if not ID_PATTERN.match(job_id):
            raise JobNotFound()
        job, results, _data, attempts = _keys(job_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(job)
        pipe.hlen(results)
        pipe.pttl(job)
        raw, done, pttl = pipe.execute()
        if not raw:
            return self._missing(job_id)
        rec = _text(raw)
        status = self._status(rec)
        interrupted = (
            status == "queued" and "submitting" in rec and self.clock() - float(rec["created"]) > SUBMIT_GRACE_SECONDS
        )
        if interrupted:
            status = "failed"
        view: dict[str, Any] = {
            "id": job_id,
            "status": status,
            "progress": {"done": int(done), "total": int(rec["total"]), "failed": int(rec.get("failed", 0))},
            # the model pinned at submission; null for a record from before models were pinned
            "model": PinnedModel.parse(rec["model"]).to_json() if "model" in rec else None,
            "created_at": _iso(rec["created"]),
            "started_at": _iso(rec.get("started")),
            "finished_at": _iso(rec.get("finished")),
            "expires_at": _iso(str(self.clock() + pttl / 1000.0)) if pttl and pttl > 0 else None,
            "timings_ms": {
                "queued": _ms(rec["created"], rec.get("started")),
                "run": _ms(rec.get("started"), rec.get("finished")),
                "total": _ms(rec["created"], rec.get("finished")),
            },
        }
        if interrupted:
            view["error"] = {
                "code": "submission_interrupted",
                "message": "the server stopped before queueing this job's pages; submit it again",
            }
        if status in TERMINAL:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hgetall(results)
            pipe.hgetall(attempts)
            page_results, page_attempts = (_text(r) for r in pipe.execute())
            view["pages"] = [
                {
                    "index": i,
                    **(json.loads(page_results[str(i)]) if str(i) in page_results else {"status": "cancelled"}),
                    "attempts": int(page_attempts.get(str(i), 0)),
                }
                for i in range(int(rec["total"]))
            ]
        return view

    @staticmethod
    def _status(rec: dict[str, str]) -> str:
        if "cancelled" in rec:
            return "cancelled"
        if "finished" in rec:
            return "failed" if int(rec.get("failed", 0)) else "succeeded"
        return "running" if "started" in rec else "queued"

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a queued or running job: its remaining pages are skipped, their bytes dropped.
        Pages already running finish, but their results are not recorded."""
        if not ID_PATTERN.match(job_id):
            raise JobNotFound()
        job, _results, data, _attempts = _keys(job_id)
        outcome = self._cancel(keys=[job, data], args=[repr(self.clock())])
        if outcome == -1:
            self._missing(job_id)  # raises 404/410 unless the job was lost
            raise JobFinished("the job was lost with a Redis restart; nothing to cancel")
        if outcome == 0:
            raise JobFinished(f"the job has already finished ({self.get(job_id)['status']})")
        return self.get(job_id)

    # -- the worker's side ---------------------------------------------------------------------

    def begin_page(self, job_id: str, index: int) -> PageWork:
        """Fetch a page's bytes and count the attempt, or say why the page must be skipped."""
        job, results, data, attempts = _keys(job_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(job, ["total", "cancelled", "model", "created"])
        pipe.hexists(results, str(index))
        pipe.hget(data, str(index))
        (total, cancelled, model, created), has_result, page = pipe.execute()
        if total is None:
            return PageWork(None, "gone")
        if cancelled is not None:
            return PageWork(None, "cancelled")
        if has_result:
            return PageWork(None, "done")
        pipe = self.redis.pipeline(transaction=False)
        pipe.hsetnx(job, "started", repr(self.clock()))
        pipe.hincrby(attempts, str(index), 1)
        pipe.pexpire(attempts, max(1, self.redis.pttl(job)))
        attempt = pipe.execute()[1]
        pinned = PinnedModel.parse(model.decode()) if model is not None else None
        waited = max(0.0, self.clock() - float(created)) if created is not None else 0.0
        return PageWork(page, None if page is not None else "lost", int(attempt), pinned, waited)

    def hand_back(self, job_id: str, index: int) -> None:
        """Un-count the attempt :meth:`begin_page` counted: the page goes back to the queue unread
        (a worker still loading, or one without the job's model), which is no attempt at reading it
        (attempts bound how often a page may stop a worker, ``MAX_PAGE_ATTEMPTS``)."""
        _, _, _, attempts = _keys(job_id)
        self.redis.hincrby(attempts, str(index), -1)

    def record_page(self, job_id: str, index: int, outcome: dict[str, Any]) -> int:
        """Store one page's outcome (``{"status": "succeeded", "result": …}`` or ``{"status":
        "failed", "error": …}``) unless one is already there; see ``_RECORD_LUA`` for the codes."""
        failed = "1" if outcome.get("status") == "failed" else "0"
        return int(
            self._record(
                keys=list(_keys(job_id)),
                args=[str(index), json.dumps(outcome, separators=(",", ":")), failed, repr(self.clock()), self.ttl],
            )
        )
