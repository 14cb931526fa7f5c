"""What a worker's messages (see :mod:`dream_core.executor.worker`) mean as job events.

Shared by every backend's :class:`~dream_core.executor.slot.WorkerSlot`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dream_core.executor.events import Cancelled, Done, Failed, JobEvent, JobProgress, JobResult
from dream_core.executor.job import Job
from dream_core.executor.worker import Message
from dream_core.params import DreamParams


def progress_event(data: Mapping[str, Any]) -> JobProgress:
    return JobProgress(
        octave=int(data["octave"]),
        octaves=int(data["octaves"]),
        iteration=int(data["iteration"]),
        iterations=int(data["iterations"]),
        fraction=float(data["fraction"]),
        frame=int(data.get("frame", 0)),
        frames=int(data.get("frames", 0)),
        preview=data.get("preview"),
    )


def terminal_event(msg: Message, job: Job) -> JobEvent:
    """Turn a worker's ``done``/``failed``/``cancelled`` message into an event."""
    kind = msg[0]
    if kind == "done":
        p = msg[2]
        queued_s = (job.started_at or job.submitted_at) - job.submitted_at
        return Done(
            JobResult(
                data=p["data"],
                format=p["format"],
                width=int(p["width"]),
                height=int(p["height"]),
                params=DreamParams.from_wire(p["params_json"]),
                model=p["model"],
                seed=int(p["seed"]),
                seconds=float(p["seconds"]),
                notes=tuple(p.get("notes", ())),
                is_animation=bool(p.get("is_animation", False)),
                frames=int(p.get("frames", 1)),
                input_size=tuple(p.get("input_size", (0, 0))),
                device=str(p.get("device", "")),
                queued_s=max(0.0, queued_s),
                worker_s=float(p.get("worker_s", 0.0)),
                renders=tuple(p.get("renders", ())),
            )
        )
    if kind == "failed":
        return Failed(str(msg[2]), str(msg[3]) if len(msg) > 3 else "internal")
    if kind == "cancelled":
        return Cancelled()
    return Failed(f"The dream worker sent an unexpected reply ({kind!r}).", "internal")
