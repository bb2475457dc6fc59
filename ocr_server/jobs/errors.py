"""Job-API errors: the server's ``OcrError`` hierarchy (status + stable code), so the one error
handler answers them as ``{"error": {"code", "message"}}`` like every other error."""

from __future__ import annotations

from ..errors import OcrError, PayloadTooLarge


class JobNotFound(OcrError):
    status = 404
    code = "job_not_found"
    default_message = "no such job"


class JobsDisabled(OcrError):
    status = 404
    code = "jobs_disabled"
    default_message = "batch jobs are not enabled on this server (config: jobs.enabled)"


class JobExpired(OcrError):
    status = 410
    code = "job_expired"
    default_message = "the job's results expired (jobs.resultTTLSeconds)"


class JobFinished(OcrError):
    status = 409
    code = "job_finished"
    default_message = "the job has already finished"


class IdempotencyKeyReused(OcrError):
    status = 422
    code = "idempotency_key_reused"
    default_message = "this Idempotency-Key was used for a different submission"


class JobTooLarge(PayloadTooLarge):
    code = "job_too_large"
    default_message = "the job's images exceed the bytes-per-job limit"


class TooManyJobs(OcrError):
    status = 429
    code = "too_many_jobs"
    default_message = "this client holds the most unexpired jobs allowed; wait for some to expire"


class JobsUnavailable(OcrError):
    status = 503
    code = "jobs_unavailable"
    default_message = "the job store (Redis) cannot be reached; retry shortly"


class ModelUnavailable(OcrError):
    """A page's pinned model is neither configured nor installed on the worker that took it, or its
    installed bundle misreads its golden set (:mod:`~ocr_server.jobs.on_demand`).  The page is never
    read with another model: it is handed back to the queue for another worker until
    ``jobs.modelWaitSeconds`` after submission (:func:`~ocr_server.jobs.pinning.hand_back_delay`),
    then recorded as its error; never an HTTP answer."""

    status = 503
    code = "model_unavailable"
    default_message = "the job's model is not loaded by this worker"


JOB_ERRORS: tuple[type[OcrError], ...] = (
    JobNotFound,
    JobsDisabled,
    JobExpired,
    JobFinished,
    IdempotencyKeyReused,
    JobTooLarge,
    TooManyJobs,
    JobsUnavailable,
    ModelUnavailable,
)
