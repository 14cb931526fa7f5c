"""The worker side: runs one dream job where torch lives (a worker process or a Ray actor).

:func:`execute_job` decodes the input with :func:`dream_core.images.load_image`
(limits from the config), runs :func:`dream_core.engine.dream` with a cancel
hook, retries once with halved tiles on out-of-memory, and returns a plain,
picklable message with the *encoded* result. :func:`worker_main` is the entry
point of a local worker process (``spawn`` context).

Messages sent to the parent are tuples::

    ("ready", pid, device)                 worker started, models warm
    ("progress", seq, {octave, ..., preview: png bytes | None})
    ("done", seq, {data, format, width, height, params_json, ...})

Params travel as :meth:`DreamParams.to_wire` JSON: every value plus which
fields the user set. They were validated before they were sent; the worker
trusts them.
    ("failed", seq, reason, kind)
    ("cancelled", seq)
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from dream_core.executor.parent_watch import exit_with_parent

if TYPE_CHECKING:
    from dream_core.executor.atlas_jobs import AtlasJob
    from dream_core.executor.clips import ClipJob

log = logging.getLogger(__name__)

#: an out-of-memory retry of a dream whose tile was chosen by measurement halves this side
RETRY_FROM_TILE = 512

Message = tuple[Any, ...]
Send = Callable[[Message], None]


@dataclass(frozen=True)
class WorkerOptions:
    """What a worker needs from the config (picklable, no pydantic)."""

    max_bytes: int
    max_pixels: int
    max_size: int
    preload_models: tuple[str, ...] = ()
    model_cache_size: int = 2
    torch_threads: Optional[int] = None
    cpu_share: str = "auto"  # "auto" | "off" (dream_core.cpu_share)
    progress_interval_s: float = 0.25
    preview_size: int = 256
    log_level: int = logging.WARNING


@dataclass(frozen=True)
class JobSpec:
    """One job as shipped to a worker: bytes in, params as :meth:`DreamParams.to_wire` JSON."""

    seq: int
    params_json: str
    image_bytes: Optional[bytes] = None
    guide_bytes: Optional[bytes] = None
    clip: Optional[ClipJob] = None  # set: ``image_bytes`` is an animation or a video (see .clips)
    atlas: Optional[AtlasJob] = None  # set: an atlas render, not a dream (see .atlas_jobs)


class ModelCache:
    """Keeps at most ``size`` models warm on one device.

    The model registry caches every model it loads; when a job needs a model
    beyond ``size``, the registry cache is cleared and only the one needed now
    is loaded again (rare: the bot mostly uses one model).
    """

    def __init__(self, device: str, size: int) -> None:
        self.device = device
        self.size = size
        self._used: OrderedDict[str, None] = OrderedDict()

    def touch(self, name: str) -> None:
        from dream_core import models

        if name not in self._used and len(self._used) >= self.size:
            log.info("model cache full (%d); dropping %s from %s", self.size, list(self._used), self.device)
            models.clear_cache()
            self._used.clear()
            _free_memory(self.device)
        models.get_model(name, self.device)
        self._used[name] = None
        self._used.move_to_end(name)


def setup_worker(device: str, options: WorkerOptions) -> ModelCache:
    """Per-process setup: logging, torch threads, warm models."""
    logging.basicConfig(level=options.log_level, format="%(asctime)s %(levelname)s worker[%(process)d]: %(message)s")
    import torch

    from dream_core import cpu_share
    from dream_core.runtime import tune_process

    if options.torch_threads:
        torch.set_num_threads(options.torch_threads)
    if not device.startswith("cuda"):
        cpu_share.enable(torch.get_num_threads(), options.cpu_share)  # threads: the cores others leave free
        from dream_core.models import cpu_loops

        # DREAMBOT_CPU_LOOPS (inherited): a bad value, or "native" where it is not built, stops the worker here
        log.info("compiled CPU loops: %s", cpu_loops.describe())
    tune_process()  # flush denormals, reuse activation memory (the engine also calls it)
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {device} asked for, but no CUDA GPU is visible to this process")
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise RuntimeError(f"device {device} asked for, but only {torch.cuda.device_count()} GPU(s) are visible")
        torch.cuda.set_device(index)
    cache = ModelCache(device, options.model_cache_size)
    for name in options.preload_models:
        try:
            cache.touch(name)
        except Exception as exc:  # a missing optional model must not stop the worker
            log.warning("could not preload model %s on %s: %s", name, device, exc)
            continue
        _warm_autotune(name, device, options.max_size)
    return cache


def _warm_autotune(name: str, device: str, side: int) -> None:
    """Measure (or read from the cache) how ``name`` runs fastest here, so no job pays for it."""
    from dream_core.warmup import warm_up

    try:
        log.info("warm-up: %s", warm_up(name, device, side=side).describe())
    except Exception as exc:  # noqa: BLE001 - tuning is an optimisation: dreams still run without it
        log.warning("autotune of %s on %s failed: %s", name, device, exc)


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom_types: tuple[type, ...] = (MemoryError,)
    for holder in (torch, getattr(torch, "cuda", None)):
        t = getattr(holder, "OutOfMemoryError", None)
        if isinstance(t, type):
            oom_types += (t,)
    if isinstance(exc, oom_types):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _free_memory(device: str) -> None:
    import gc

    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


@dataclass(frozen=True)
class _AtlasProgress:
    """An atlas job's progress in a dream's terms: one octave of 100 steps."""

    fraction: float
    iteration: int
    octave: int = 1
    octaves: int = 1
    iterations: int = 100
    frame: int = 0
    frames: int = 0
    preview: Any = None


def _preview_png(image: Any, size: int) -> bytes:
    small = image.copy()
    small.thumbnail((size, size))
    buf = io.BytesIO()
    small.save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line[:300] if line else "unknown error"


def execute_job(
    spec: JobSpec,
    device: str,
    options: WorkerOptions,
    send: Send,
    cancelled: Callable[[], bool],
    cache: Optional[ModelCache] = None,
) -> Message:
    """Run one job; stream progress through ``send``; return the terminal message."""
    from dream_core.engine import dream
    from dream_core.errors import DreamCancelled, DreamInputError, DreamParamsError, ModelUnavailableError
    from dream_core.images import guide_text, load_image
    from dream_core.params import DreamParams

    seq = spec.seq
    t_start = time.perf_counter()
    last_sent = [0.0]

    def on_progress(p: Any) -> None:
        now = time.monotonic()
        final = p.fraction >= 1.0
        if p.preview is None and not final and now - last_sent[0] < options.progress_interval_s:
            return
        last_sent[0] = now
        preview = _preview_png(p.preview, options.preview_size) if p.preview is not None else None
        send(
            (
                "progress",
                seq,
                {
                    "octave": p.octave,
                    "octaves": p.octaves,
                    "iteration": p.iteration,
                    "iterations": p.iterations,
                    "fraction": float(p.fraction),
                    "frame": p.frame,
                    "frames": p.frames,
                    "preview": preview,
                },
            )
        )

    try:
        params = DreamParams.from_wire(spec.params_json)
        image = guide = None
        notes: list[str] = []
        if spec.image_bytes is not None and spec.clip is None:
            loaded = load_image(
                spec.image_bytes, max_bytes=options.max_bytes, max_pixels=options.max_pixels, max_size=options.max_size
            )
            image = loaded.image
            notes.extend(loaded.notes)
        if spec.guide_bytes is not None:
            guide = load_image(
                spec.guide_bytes, max_bytes=options.max_bytes, max_pixels=options.max_pixels, max_size=options.max_size
            ).image
        if cache is not None:
            cache.touch(params.model)
        if spec.atlas is not None:
            from dream_core.executor.atlas_jobs import run_atlas

            def on_fraction(fraction: float) -> None:
                step = int(round(100 * min(1.0, max(0.0, fraction))))
                on_progress(_AtlasProgress(step / 100, step))

            payload = run_atlas(
                spec.atlas, spec.params_json, progress=on_fraction, cancel=cancelled, device=device
            )
            if cancelled():
                return ("cancelled", seq)
            return ("done", seq, {**payload, "worker_s": time.perf_counter() - t_start})
        if spec.clip is not None and spec.image_bytes is not None:
            from dream_core.executor.clips import run_clip

            payload = run_clip(
                spec.clip, spec.image_bytes, params, guide=guide, progress=on_progress, cancel=cancelled, device=device
            )
            if cancelled():
                return ("cancelled", seq)
            return ("done", seq, {**payload, "worker_s": time.perf_counter() - t_start})
        tries = 0
        while True:
            try:
                result = dream(image, params, guide=guide, progress=on_progress, cancel=cancelled, device=device)
                break
            except DreamCancelled:
                raise
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                _free_memory(device)
                tile = params.tile_size or RETRY_FROM_TILE
                smaller = max(64, tile // 2)
                if tries >= 1 or smaller == tile:
                    log.warning("job %s: out of memory on %s, giving up", seq, device)
                    return (
                        "failed",
                        seq,
                        "Ran out of memory even with smaller tiles. Try a smaller image or a lower max size.",
                        "oom",
                    )
                log.warning("job %s: out of memory on %s, retrying with tile_size %d", seq, device, smaller)
                params = params.adjusted(tile_size=smaller)  # not the user's choice: not recorded as set
                notes.append(f"ran out of memory; retried with smaller tiles ({smaller} px)")
                tries += 1
        if cancelled():
            return ("cancelled", seq)
        # a guided PNG names its guide, as the CLI's do (``--params-from`` asks for it again)
        text = guide_text("", spec.guide_bytes) if spec.guide_bytes is not None else None
        data = result.encode(text=text)
        fmt = "webp" if result.is_animation else "png"
        rparams = result.params
        all_notes = list(dict.fromkeys([*notes, *result.notes]))
        return (
            "done",
            seq,
            {
                "data": data,
                "format": fmt,
                "width": result.image.width,
                "height": result.image.height,
                "params_json": rparams.to_wire(),
                "model": rparams.model,
                "seed": int(rparams.seed if rparams.seed is not None else params.seed or 0),
                "seconds": float(result.seconds),
                "notes": tuple(all_notes),
                "is_animation": bool(result.is_animation),
                "frames": max(1, len(result.frames)),
                "input_size": tuple(result.input_size),
                "device": device,
                "worker_s": time.perf_counter() - t_start,
            },
        )
    except DreamCancelled:
        return ("cancelled", seq)
    except DreamInputError as exc:
        return ("failed", seq, _one_line(str(exc)), "input")
    except DreamParamsError as exc:
        return ("failed", seq, _one_line(str(exc)), "params")
    except ModelUnavailableError as exc:
        return ("failed", seq, _one_line(str(exc)), "model")
    except Exception as exc:
        if _is_oom(exc):
            return ("failed", seq, "Ran out of memory. Try a smaller image or a lower max size.", "oom")
        log.exception("job %s failed", seq)
        reason = f"Internal error while dreaming ({type(exc).__name__}); the team has been told."
        return ("failed", seq, reason, "internal")
    finally:
        if device.startswith("cuda"):
            _free_memory(device)


def worker_main(conn: Any, cancel_seq: Any, device: str, options: WorkerOptions, parent_pid: int) -> None:
    """Entry point of a local worker process (run with the ``spawn`` context).

    ``conn``: duplex pipe to the executor. ``cancel_seq``: a shared integer;
    the running job stops when it equals the job's ``seq``. ``parent_pid``: the
    executor's process; the worker exits within a moment of its death, whatever
    it is doing (:mod:`dream_core.executor.parent_watch`): no orphans holding
    memory or the GPU.
    """
    exit_with_parent(parent_pid)
    try:
        cache = setup_worker(device, options)
        conn.send(("ready", os.getpid(), device))
    except Exception as exc:  # report, then exit: the executor decides about restarts
        with contextlib.suppress(OSError):
            conn.send(("start_failed", _one_line(f"{type(exc).__name__}: {exc}")))
        return

    def send(msg: Message) -> None:
        conn.send(msg)

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if msg[0] == "stop":
            return
        if msg[0] != "job":
            continue
        spec: JobSpec = msg[1]

        def cancelled(seq: int = spec.seq) -> bool:
            return bool(cancel_seq.value == seq)

        try:
            outcome = execute_job(spec, device, options, send, cancelled, cache)
            send(outcome)
        except (BrokenPipeError, EOFError, OSError):
            return
