"""A clean stop: what ``dreambot run`` does on SIGTERM (a deploy, ``docker stop``, a
host reboot) or SIGINT (Ctrl-C), within the orchestrator's grace period.

1. The bot stops taking dreams into the executor: a ``/dream`` meanwhile is recorded
   as queued, and its user is told "DreamBot is restarting — your dream is queued and
   will start in a moment" (:attr:`bot.dream_runner.DreamRunner.draining`); ``/healthz``
   answers 503 "draining", so a load balancer stops sending traffic.
2. Dreams under way get ``DREAMBOT_SHUTDOWN_GRACE_S`` (25 s, under Docker's and
   Kubernetes' 30 s) to finish; their results are posted.
3. Whatever is still under way then is handed to the next start
   (:meth:`~bot.dream_runner.DreamRunner.hand_over`), which resumes it.
4. The client closes: executor, then the web gallery, then the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: how long after the newest interaction the bot counts as idle
SETTLE_S = 1.0


@contextlib.asynccontextmanager
async def stop_signals() -> AsyncIterator[asyncio.Event]:
    """An event set by SIGTERM or SIGINT while inside (the default handlers come back after)."""
    loop = asyncio.get_running_loop()
    event = asyncio.Event()
    installed = []
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, _received, sig, event)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not the main thread / not Unix
            pass
    try:
        yield event
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _received(sig: signal.Signals, event: asyncio.Event) -> None:
    if event.is_set():
        log.warning("%s again: stopping now", sig.name)
        raise KeyboardInterrupt
    log.info("%s: draining (no new dreams start; running ones may finish)", sig.name)
    event.set()


async def drain(bot: Any, grace_s: float) -> None:
    """Steps 1-3 above; the caller closes the bot after. The bot is idle when no dream is
    under way and no interaction arrived for :data:`SETTLE_S` (a command being parsed has
    not reached the runner yet)."""
    runner = bot.dreams
    runner.draining = True
    bot.draining = True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    if runner.busy:
        log.info("waiting up to %.0f s for %d dream(s) to finish", grace_s, runner.busy)
    while True:
        idle = await runner.wait_idle(max(0.0, deadline - loop.time()))
        quiet = time.monotonic() - bot.last_interaction >= SETTLE_S
        if (idle and quiet) or loop.time() >= deadline:
            break
        await asyncio.sleep(0.1)
    if runner.busy:
        log.info("grace period over: handing %d dream(s) to the next start", runner.busy)
    await runner.hand_over()
