"""Exceptions of the executor. Messages are one line and user-readable."""

from __future__ import annotations

from dream_core.errors import DreamCancelled, DreamError


class ExecutorError(DreamError):
    """Base class of executor errors."""


class SubmitRefused(ExecutorError):
    """A job was not accepted (queue full, per-user/per-server cap, executor closed).

    Raised by ``submit`` at once; ``reason`` (also ``str(exc)``) says why.
    """

    def __init__(self, reason: str, *, code: str = "refused") -> None:
        super().__init__(reason)
        self.reason = reason
        #: machine-readable cause: ``queue_full``, ``user_limit``, ``guild_limit``, ``closed``, ``unavailable``
        self.code = code


class JobFailed(ExecutorError):
    """Raised by ``Job.result()`` when the job failed; ``reason`` is one line."""

    def __init__(self, reason: str, *, kind: str = "error") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class JobCancelled(DreamCancelled, ExecutorError):
    """Raised by ``Job.result()`` when the job was cancelled."""


class WorkerStartError(ExecutorError):
    """A worker process / actor could not be started."""
