"""What a job reports while it runs (`JobEvent`) and what it produces (`JobResult`).

A job's event stream is::

    (Queued | Waiting)*  Started  JobProgress*  [Waiting(retry)  (Queued | Waiting)*  Started  JobProgress*]
    (Done | Failed | Cancelled)

``Queued`` is sent on submit and again whenever the position changes. A job
cancelled or refused before it starts goes straight from ``Queued`` to
``Cancelled``/``Failed``. ``Waiting`` says, in one line, why a job is not
running beyond its place in the line: its worker was lost and it will run
again (once; it then starts from the beginning), or no worker is reachable
(a Ray cluster that is down) and it stays queued until one is. Exactly one
terminal event ends every stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

from dream_core.params import DreamParams


@dataclass(frozen=True)
class JobResult:
    """The finished dream: encoded bytes plus what produced them."""

    data: bytes  # PNG for a still, WebP for an animation
    format: str  # "png" | "webp" | ...
    width: int
    height: int
    params: DreamParams  # resolved (every knob filled, seed set)
    model: str
    seed: int
    seconds: float  # time spent dreaming in the worker
    notes: tuple[str, ...] = ()
    is_animation: bool = False
    frames: int = 1
    input_size: tuple[int, int] = (0, 0)
    device: str = ""
    queued_s: float = 0.0  # time from submit to start
    worker_s: float = 0.0  # time the worker spent on the job (decode + dream + encode)
    #: an atlas job's new renders, (digest, png) each, for the caller's render cache
    renders: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    @property
    def filename(self) -> str:
        return f"dream-{self.seed}.{self.format}"


@dataclass(frozen=True)
class Queued:
    """Waiting; ``position`` 1 means next to start."""

    position: int


@dataclass(frozen=True)
class Started:
    """A worker picked the job up."""

    worker: str
    device: str


@dataclass(frozen=True)
class JobProgress:
    """One progress report. ``octave``/``iteration`` are 1-based; ``fraction`` covers the whole job."""

    octave: int
    octaves: int
    iteration: int
    iterations: int
    fraction: float
    eta_s: Optional[float] = None
    frame: int = 0
    frames: int = 0
    preview: Optional[bytes] = field(default=None, repr=False)  # small PNG at an octave's end


@dataclass(frozen=True)
class Waiting:
    """Not running, for a reason beyond the queue; ``reason`` is one user-readable line.

    ``retry``: the job was running and its worker was lost; it is queued again
    (first in line) and will start over. Otherwise no worker is reachable right
    now and the job stays queued until one is.
    """

    reason: str
    retry: bool = False


@dataclass(frozen=True)
class Done:
    result: JobResult = field(repr=False)


@dataclass(frozen=True)
class Failed:
    """The job failed. ``reason`` is one user-readable line.

    ``kind``: ``input`` (bad image), ``params`` (bad settings), ``model``
    (model unavailable), ``timeout``, ``worker_died``, ``oom``, ``shutdown``,
    ``internal``.
    """

    reason: str
    kind: str = "internal"


@dataclass(frozen=True)
class Cancelled:
    reason: str = "cancelled"


JobEvent = Union[Queued, Started, JobProgress, Waiting, Done, Failed, Cancelled]
TERMINAL_EVENTS = (Done, Failed, Cancelled)


def is_terminal(event: JobEvent) -> bool:
    return isinstance(event, TERMINAL_EVENTS)
