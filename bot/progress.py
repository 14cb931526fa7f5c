"""The progress message of a dream: what it says and how often it is edited.

:func:`render_progress` turns a :class:`ProgressState` into a short line
(queue position, or a progress bar with percent and ETA).
:class:`ProgressReporter` keeps one message up to date without flooding
Discord: it edits at most once per ``min_interval`` seconds and only when the
text (or the octave preview) changed; the last state is always flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Optional

log = logging.getLogger(__name__)

BAR_WIDTH = 12

# Sends one rendered update: (text, preview png bytes or None). Must not raise
# for ordinary Discord hiccups; the reporter logs and carries on if it does.
EditFunc = Callable[[str, Optional[bytes]], Awaitable[None]]


@dataclass(frozen=True)
class ProgressState:
    """Where a dream stands, as shown to its owner."""

    stage: str = "queued"  # queued | running | finishing
    note: str = ""  # a first line, e.g. "Resumed after a restart"
    position: Optional[int] = None  # place in the queue (1 = next)
    fraction: float = 0.0
    eta_s: Optional[float] = None
    octave: Optional[int] = None
    octaves: Optional[int] = None
    frame: int = 0  # a clip's frame being dreamed (1-based); 0: a still
    frames: int = 0
    label: str = ""  # e.g. "mixed4c · medium"
    waiting: str = ""  # why a queued dream waits beyond its place in line (its worker was lost, none is up)


def progress_bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A text bar like ``▰▰▰▰▱▱▱▱``; ``fraction`` is clamped to [0, 1]."""
    fraction = min(1.0, max(0.0, fraction))
    filled = int(round(fraction * width))
    return "▰" * filled + "▱" * (width - filled)


def format_eta(seconds: Optional[float]) -> str:
    """``~12 s left`` / ``~3 min left``; empty when unknown."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 1.5:
        return "almost done"
    if seconds < 90:
        return f"~{int(round(seconds))} s left"
    return f"~{int(round(seconds / 60))} min left"


def render_progress(state: ProgressState) -> str:
    """The progress line for ``state`` (after its note, when it has one)."""
    prefix = f"{state.note}\n" if state.note else ""
    return prefix + _render_stage(state)


def _render_stage(state: ProgressState) -> str:
    suffix = f"\n-# {state.label}" if state.label else ""
    if state.stage == "queued" and state.waiting:
        where = f" Position **{state.position}** in the queue." if state.position and state.position > 1 else ""
        return f"⏳ {state.waiting}{where}{suffix}"
    if state.stage == "queued":
        if state.position is not None and state.position > 1:
            return f"⏳ In the queue — position **{state.position}**. I'll start soon.{suffix}"
        return f"⏳ In the queue — you're next.{suffix}"
    if state.stage == "finishing":
        return f"✨ Almost there — packing up your dream…{suffix}"
    pct = int(min(1.0, max(0.0, state.fraction)) * 100)
    parts = [f"🌀 Dreaming… `{progress_bar(state.fraction)}` **{pct}%**"]
    if state.frame and state.frames > 1:
        parts.append(f"frame {state.frame}/{state.frames}")
    if state.octave and state.octaves:
        parts.append(f"octave {state.octave}/{state.octaves}")
    eta = format_eta(state.eta_s)
    if eta:
        parts.append(eta)
    return " · ".join(parts) + suffix


class ProgressReporter:
    """Throttled edits of one progress message.

    Call :meth:`update` as often as you like; the message is edited at most
    once per ``min_interval`` seconds and only when what it would show
    changed. A pending state is flushed by a background task when the interval
    has passed, so the final state before a pause is never lost. Call
    :meth:`close` when the dream ends (it cancels the pending flush).
    """

    def __init__(
        self,
        edit: EditFunc,
        *,
        min_interval: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
        inline_wait_s: float = 2.0,
        close_wait_s: float = 10.0,
    ) -> None:
        self._edit = edit
        self._min_interval = min_interval
        self._clock = clock
        self._state: Optional[ProgressState] = None
        self._preview: Optional[bytes] = None
        self._shown: tuple[str, Optional[bytes]] = ("", None)
        self._last_edit = float("-inf")
        self._pending: Optional[asyncio.Task[None]] = None
        self._inflight: Optional[asyncio.Task[Any]] = None  # the edit on its way, if any
        self.inline_wait_s = inline_wait_s
        self.close_wait_s = close_wait_s
        self._lock = asyncio.Lock()
        self._closed = False
        self.edits = 0

    @property
    def state(self) -> Optional[ProgressState]:
        return self._state

    async def update(self, state: ProgressState, preview: Optional[bytes] = None) -> None:
        """Record ``state`` (and a new octave preview) and edit if allowed now.

        It waits for the edit at most ``inline_wait_s``: when Discord is slow or down
        (discord.py retries a 5xx for ~25 s) the dream goes on and the edit finishes
        in the background; states meanwhile are coalesced into one later edit."""
        if self._closed:
            return
        self._state = state
        if preview is not None:
            self._preview = preview
        wait = self._last_edit + self._min_interval - self._clock()
        busy = self._inflight is not None and not self._inflight.done()
        if wait <= 0 and not busy:
            self._inflight = asyncio.create_task(self._flush())
            await asyncio.wait({self._inflight}, timeout=self.inline_wait_s)
        elif self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._flush_later(max(wait, 0.0)))

    def merge(self, **changes: object) -> ProgressState:
        """The current state with ``changes`` applied (for callers building the next one)."""
        return replace(self._state or ProgressState(), **changes)  # type: ignore[arg-type]

    async def _flush_later(self, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            if self._inflight is not None and not self._inflight.done():
                await asyncio.wait({self._inflight})
            self._inflight = asyncio.current_task()
            await self._flush()
        except asyncio.CancelledError:
            pass

    async def _flush(self) -> None:
        async with self._lock:
            if self._closed or self._state is None:
                return
            text = render_progress(self._state)
            wanted = (text, self._preview)
            if wanted == self._shown:
                return
            preview_changed = self._preview is not self._shown[1]
            self._last_edit = self._clock()
            self._shown = wanted
            try:
                await self._edit(text, self._preview if preview_changed else None)
                self.edits += 1
            except Exception:  # a failed progress edit must never stop the dream
                log.warning("progress edit failed", exc_info=True)

    async def close(self) -> None:
        """Stop editing; pending updates are dropped.

        An edit already on its way is allowed to finish first (up to ``close_wait_s``,
        then it is abandoned), so it can't land after (and overwrite) the message
        that replaces the progress.
        """
        self._closed = True
        inflight = self._inflight
        if inflight is not None and not inflight.done() and inflight is not asyncio.current_task():
            await asyncio.wait({inflight}, timeout=self.close_wait_s)
            if not inflight.done():
                inflight.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await inflight
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pending
