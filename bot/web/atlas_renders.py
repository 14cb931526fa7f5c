"""Lazy rendering for the web atlas: a filter nobody has rendered yet is asked of the
executor, at most once per filter at a time.

The web layer knows one small protocol, :class:`AtlasRenderer` (``await render(order)``
returns once the renders are in the atlas cache, raises when they failed).
:class:`ExecutorRenderer` implements it with the executor's ``submit_atlas`` (atlas
jobs: after every waiting dream, one at a time, see :mod:`dream_core.executor`);
``dreambot web`` on its own has no executor, so no renderer: its pages show
placeholders and point to ``dreambot atlas build``.

:class:`AtlasRenders` keeps what is under way: a filter already being rendered is not
asked again, at most :data:`MAX_ORDERS` orders wait at once (scrolling through a
2048-filter layer asks page by page, as the pages come into view), and a filter whose
render failed (or was made but is not in the cache) is not asked again for :data:`RETRY_AFTER_S`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Optional, Protocol

log = logging.getLogger(__name__)

#: orders (jobs) the web may have under way at once (under the executor's max_queued_per_user)
MAX_ORDERS = 2
#: seconds before a filter whose render failed is asked again
RETRY_AFTER_S = 30.0
#: why a filter rendered a moment ago is still not in the cache (a job that ended well
#: brings its renders into the cache first: this is a cache the site cannot write or read)
UNSTORED = "rendered, but the render is not in the atlas cache (check DREAMBOT_ATLAS_DIR)"
#: outcomes remembered before the old ones are forgotten
MAX_REMEMBERED = 4096
#: the user id the web's atlas jobs are queued under (one "user" for fair scheduling)
WEB_USER_ID = 0


@dataclass(frozen=True)
class RenderOrder:
    """Renders to make: ``filters`` of own layer ``layer`` at ``size``; ``single``: one filter
    large, ``diversity`` different images of it rendered together (variants 0..)."""

    model: str
    layer: str
    filters: tuple[int, ...]
    size: int
    single: bool = False
    diversity: int = 0


class AtlasRenderer(Protocol):
    async def render(self, order: RenderOrder) -> None:
        """Make the renders (they land in the atlas cache); raise when that failed."""


class ExecutorRenderer:
    """:class:`AtlasRenderer` over an executor's ``submit_atlas`` (an atlas job per order).

    A job's new renders come back with its result (a Ray worker's cache is not this
    machine's): they are kept in ``cache`` before the order counts as done, so the page
    that asks next finds them (the executor keeps them too, a moment later).
    """

    def __init__(self, executor: Any, cache: Any) -> None:
        self.executor = executor
        self.cache = cache

    @staticmethod
    def supports(executor: Any) -> bool:
        return executor is not None and callable(getattr(executor, "submit_atlas", None))

    async def render(self, order: RenderOrder) -> None:
        from dream_core.executor.atlas_jobs import AtlasJob

        job = await self.executor.submit_atlas(
            AtlasJob(model=order.model, layer=order.layer, filters=order.filters, size=order.size,
                     single=order.single, diversity=order.diversity),
            user_id=WEB_USER_ID,
        )
        result = await job.result()
        renders = tuple(getattr(result, "renders", ()) or ())
        if renders:
            await asyncio.to_thread(lambda: [self.cache.keep(digest, png) for digest, png in renders])


@dataclass(frozen=True)
class RenderState:
    """What the atlas can say about some filters: ``renderer`` (renders can be made here),
    ``rendering`` (some of them are under way or waiting for a free order), ``failed``
    (the last render of one of them failed, with its one line)."""

    renderer: bool
    rendering: bool
    failed: Optional[str] = None


class AtlasRenders:
    """Orders renders of missing filters from an :class:`AtlasRenderer`, once per filter at a time."""

    def __init__(self, renderer: Optional[AtlasRenderer]) -> None:
        self.renderer = renderer
        self._busy: set[tuple[str, str, int, bool, int]] = set()
        self._failed: dict[tuple[str, str, int, bool, int], tuple[float, str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _key(self, order: RenderOrder, n: int) -> tuple[str, str, int, bool, int]:
        return (order.model, order.layer, order.size, order.single, n)

    def busy(self, order: RenderOrder) -> bool:
        """Whether a render of one of ``order``'s filters is under way."""
        return any(self._key(order, n) in self._busy for n in order.filters)

    def request(self, order: RenderOrder) -> RenderState:
        """Order the filters of ``order`` that are not under way (nor failed recently) and
        say where they stand. The caller passes only filters missing from the cache."""
        if self.renderer is None:
            return RenderState(renderer=False, rendering=False)
        now = time.monotonic()
        if len(self._failed) > MAX_REMEMBERED:
            self._failed = {k: v for k, v in self._failed.items() if now - v[0] < RETRY_AFTER_S}
        failed = None
        todo = []
        for n in order.filters:
            key = self._key(order, n)
            if key in self._busy:
                continue
            failure = self._failed.get(key)
            if failure is not None and now - failure[0] < RETRY_AFTER_S:
                failed = failure[1]
                continue
            todo.append(n)
        if todo and len(self._tasks) < MAX_ORDERS:
            self._start(RenderOrder(order.model, order.layer, tuple(todo), order.size, order.single,
                                    order.diversity))
            todo = []
        rendering = any(self._key(order, n) in self._busy for n in order.filters) or bool(todo)
        return RenderState(renderer=True, rendering=rendering, failed=None if rendering else failed)

    def _start(self, order: RenderOrder) -> None:
        keys = [self._key(order, n) for n in order.filters]
        self._busy.update(keys)
        for key in keys:
            self._failed.pop(key, None)
        task = asyncio.create_task(self._run(order, keys), name=f"atlas-render-{order.model}-{order.layer}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, order: RenderOrder, keys: list[tuple[str, str, int, bool, int]]) -> None:
        assert self.renderer is not None
        try:
            await self.renderer.render(order)
            # done: the filters are in the cache now; still missing on the next ask means they never got there
            now = time.monotonic()
            for key in keys:
                self._failed[key] = (now, UNSTORED)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the job failed, was refused or cancelled: say so, ask again later
            line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.warning("atlas: rendering %s %s %s failed: %s", order.model, order.layer, order.filters, line)
            now = time.monotonic()
            for key in keys:
                self._failed[key] = (now, line)
        finally:
            self._busy.difference_update(keys)

    async def close(self) -> None:
        """Stop waiting for the orders under way (the executor finishes or cancels them)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
