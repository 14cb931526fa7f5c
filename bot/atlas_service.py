"""The atlas in chat: ``/atlas`` sheets, their pages, and "Dream with filter N".

:meth:`AtlasService.show` (the command) and :meth:`AtlasService.turn` (◀ ▶) check the
request once (:mod:`dream_core.atlas.request`: an unknown model or layer or a page past
the end is one ephemeral line and nothing runs). A sheet whose 16 renders are all in
the render cache is composed here and answered at once (:mod:`bot.atlas_cached`);
otherwise it becomes an atlas job of the executor (fair-queued, after waiting dreams,
one at a time), its message showing the queue position, progress and a ✖️ Cancel
button (:class:`~bot.progress.ProgressReporter`), then the sheet.
:meth:`AtlasService.pick` starts a dream with ``layer:<layer>:N`` through the
:class:`~bot.dream_runner.DreamRunner`, on the picture the user dreamed last, or on
noise when there is none.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import logging
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Optional, Protocol
from urllib.parse import quote

import discord

from bot.atlas_cached import CachedSheets, SheetKey
from bot.atlas_views import NAME_RE, rendering_view, sheet_view
from bot.clip_input import ClipRejected
from bot.collaborators import Files, JobHandle
from bot.dream_request import DreamRequest
from bot.dream_runner import DreamRunner
from bot.params_policy import ParamsPolicy
from bot.progress import ProgressReporter, ProgressState
from bot.replies import SORRY, UserError, as_sentence, is_admin, send_error
from bot.store.errors import StoreError
from bot.store.records import DreamInfo
from bot.stored_inputs import stored_image
from dream_core.atlas.request import AtlasInputError, AtlasTarget, check_filter, page_filters, resolve_layer
from dream_core.executor.atlas_jobs import AtlasJob
from dream_core.executor.errors import SubmitRefused
from dream_core.executor.events import Cancelled, Done, Failed, JobProgress, Queued, Started, Waiting

log = logging.getLogger(__name__)

#: dreams looked at for "the picture the user dreamed last"
RECENT_DREAMS = 20
NO_PICTURE_NOTE = "you have no dreamed picture yet, so this one dreams from noise"


class AtlasSettings(Protocol):
    @property
    def default_model(self) -> str: ...
    @property
    def atlas_size(self) -> int: ...
    @property
    def atlas_steps(self) -> int: ...
    @property
    def progress_edit_interval_s(self) -> float: ...
    @property
    def web_enabled(self) -> bool: ...
    @property
    def web_url(self) -> Optional[str]: ...


class AtlasExecutor(Protocol):
    """Where sheets are rendered (:class:`dream_core.executor.BaseExecutor`)."""

    async def submit_atlas(self, atlas: AtlasJob, *, user_id: int, guild_id: Optional[int] = None) -> JobHandle: ...


class RecentDreams(Protocol):
    async def list_history(self, user_id: int, *, page: int = 0, page_size: int = 10) -> Any: ...


@dataclass(frozen=True)
class Sheet:
    """One requested page of a layer's filters, checked."""

    key: SheetKey
    name: str  # the layer as the user named it (``mixed4``): shown, and used for dreams
    page: int  # 1-based
    pages: int
    web: str = ""  # the layer's page in the web gallery, when it has a public URL

    @property
    def target(self) -> AtlasTarget:
        return self.key.target

    @property
    def filters(self) -> tuple[int, ...]:
        return self.key.filters

    @property
    def label(self) -> str:
        f = self.filters
        return f"atlas · {self.name} · filters {f[0]}–{f[-1]}"

    def caption(self) -> str:
        f = self.filters
        web = f" · [every filter on the web](<{self.web}>)" if self.web else ""
        return (
            f"🗺️ **{self.name}** of {self.target.model} · filters {f[0]}–{f[-1]} · page {self.page}/{self.pages}\n"
            f"-# What each filter wants to see. Pick one below to dream with it (`layer:{self.name}:N`){web}."
        )

    def view(self) -> discord.ui.View:
        return sheet_view(self.target.model, self.name, self.page, self.pages, self.filters)

    def file(self, png: bytes) -> discord.File:
        return discord.File(io.BytesIO(png), filename=f"atlas-{self.target.model}-{self.name}-p{self.page}.png")


def check_sheet(settings: AtlasSettings, model: Optional[str], layer: str, page: int) -> Sheet:
    """The checked request (``model`` None: the bot's default model); :class:`UserError`
    (one line) for an unknown model or layer or a page past the end."""
    model = (model or settings.default_model).strip()
    try:
        target = resolve_layer(model, layer)
        filters = page_filters(target, page)
    except AtlasInputError as exc:
        raise UserError(user_line(exc)) from None
    name = target.name if NAME_RE.fullmatch(target.name) else target.layer  # it travels in custom_ids
    key = SheetKey(target, filters, settings.atlas_size, settings.atlas_steps)
    web = ""
    if settings.web_enabled and settings.web_url:
        web = f"{settings.web_url.rstrip('/')}/atlas/{quote(target.model)}/{quote(target.layer)}"
    return Sheet(key, name, page, target.pages, web)


def user_line(exc: Exception) -> str:
    """An :class:`AtlasInputError` as the line a user reads (without its ``field:`` prefix)."""
    text = re.sub(r"^[a-z_]+: ", "", as_sentence(str(exc)))
    return text[:1].upper() + text[1:]


@dataclass
class _Rendering:
    user_id: int
    job: JobHandle
    cancel_requested: bool = False


class AtlasService:
    """Serves atlas sheets and dreams with their filters. One per bot (``client.atlas``)."""

    def __init__(
        self,
        settings: AtlasSettings,
        *,
        executor: AtlasExecutor,
        sheets: CachedSheets,
        runner: DreamRunner,
        policy: ParamsPolicy,
        store: RecentDreams,
        files: Files,
    ) -> None:
        self.settings = settings
        self.executor = executor
        self.sheets = sheets
        self.runner = runner
        self.policy = policy
        self.store = store
        self.files = files
        self.rendering: dict[int, _Rendering] = {}
        self._tickets = itertools.count(1)
        self.served_from_cache = 0
        self.jobs_submitted = 0

    def sheet(self, model: Optional[str], layer: str, page: int) -> Sheet:
        return check_sheet(self.settings, model, layer, page)

    # ------------------------------------------------------------------ entry points
    async def show(self, interaction: discord.Interaction, model: Optional[str], layer: str, page: int) -> None:
        """``/atlas``: the sheet, from the cache at once or rendered by the executor."""
        sheet = self.sheet(model, layer, page)  # UserError: the command tree answers it
        png = await self._cached(sheet)
        if png is not None:
            await interaction.response.send_message(sheet.caption(), file=sheet.file(png), view=sheet.view())
            return
        job = await self._submit(interaction, sheet)
        if job is None:
            return
        await self._acknowledge(job, interaction.response.defer(thinking=True))
        await self._follow(interaction, sheet, job)

    async def turn(self, interaction: discord.Interaction, model: str, layer: str, page: int) -> None:
        """◀ ▶: the sheet's message shows another page."""
        try:
            sheet = self.sheet(model, layer, page)
            png = await self._cached(sheet)
            if png is not None:
                await interaction.response.edit_message(
                    content=sheet.caption(), attachments=[sheet.file(png)], view=sheet.view()
                )
                return
            job = await self._submit(interaction, sheet)
            if job is None:
                return
            await self._acknowledge(job, interaction.response.defer())  # the sheet's message shows the progress
            await self._follow(interaction, sheet, job)
        except UserError as exc:
            await send_error(interaction, str(exc))
        except Exception:
            log.exception("atlas page %s %s %s failed", model, layer, page)
            await send_error(interaction, SORRY)

    async def pick(self, interaction: discord.Interaction, model: str, layer: str, page: int, value: str) -> None:
        """"Dream with filter N": a dream with ``layer:<layer>:N``, on the picture the user
        dreamed last, or on noise."""
        try:
            sheet = self.sheet(model, layer, page)
            try:
                n = check_filter(sheet.target, int(value))
            except (ValueError, AtlasInputError):
                raise UserError("That filter isn't on this sheet anymore.") from None
            options = {"model": sheet.target.model, "layer": f"{sheet.name}:{n}"}
            params = await self.policy.build_params(interaction.user.id, options=options)
            self.runner.check_limits(interaction.user.id, interaction.guild_id)
            image, notes = await self._last_picture(interaction.user.id)
            request = DreamRequest.by(interaction, params, image, source="atlas", notes=notes)
        except (UserError, StoreError) as exc:
            await send_error(interaction, str(exc))
            return
        except Exception:
            log.exception("atlas pick %s %s %s failed", model, layer, value)
            await send_error(interaction, SORRY)
            return
        await self.runner.defer(interaction)  # a new message: the dream's progress, then its result
        if interaction.message is not None:  # the menu shows no choice again: the same filter can be picked twice
            with contextlib.suppress(discord.HTTPException):
                await interaction.message.edit(view=sheet.view())
        await self.runner.run(interaction, request)

    async def cancel_allowed(self, interaction: discord.Interaction, ticket: int) -> bool:
        rendering = self.rendering.get(ticket)
        if rendering is None:
            await send_error(interaction, "That sheet isn't being rendered anymore.")
            return False
        if rendering.user_id != interaction.user.id and not is_admin(interaction):
            await send_error(interaction, "Only the person who asked for this sheet can cancel it.")
            return False
        return True

    async def cancel(self, interaction: discord.Interaction, ticket: int) -> None:
        rendering = self.rendering.get(ticket)
        if rendering is None:
            await send_error(interaction, "That sheet isn't being rendered anymore.")
            return
        await interaction.response.defer()
        rendering.cancel_requested = True
        await rendering.job.cancel()

    # ------------------------------------------------------------------ the parts
    async def _cached(self, sheet: Sheet) -> Optional[bytes]:
        try:
            png = await asyncio.to_thread(self.sheets.get, sheet.key)
        except Exception:  # an unreadable cache is a miss, never an error
            log.warning("atlas cache lookup failed", exc_info=True)
            return None
        if png is not None:
            self.served_from_cache += 1
        return png

    async def _submit(self, interaction: discord.Interaction, sheet: Sheet) -> Optional[JobHandle]:
        """The sheet's executor job; a refusal (queue full...) is answered here (None)."""
        t = sheet.target
        key = sheet.key
        # the layer as the user named it: the worker's sheet (its title, its place in the cache) is this one
        atlas = AtlasJob(model=t.model, layer=t.name, filters=key.filters, size=key.size, steps=key.steps)
        try:
            job = await self.executor.submit_atlas(atlas, user_id=interaction.user.id, guild_id=interaction.guild_id)
        except SubmitRefused as exc:
            await send_error(interaction, str(exc) or "The queue is full. Please try again in a few minutes.")
            return None
        self.jobs_submitted += 1
        log.info("atlas sheet %s/%s %s by user %s", t.model, t.layer, sheet.filters, interaction.user.id)
        return job

    async def _acknowledge(self, job: JobHandle, defer: Awaitable[Any]) -> None:
        """Acknowledge the interaction; when that fails (too late, Discord down) nobody would
        see the sheet: its job is cancelled."""
        try:
            await defer
        except BaseException:
            await asyncio.shield(job.cancel())
            raise

    async def _follow(self, interaction: discord.Interaction, sheet: Sheet, job: JobHandle) -> None:
        """Show the job's progress in the interaction's message, then the sheet."""
        ticket = next(self._tickets)
        self.rendering[ticket] = _Rendering(interaction.user.id, job)

        async def show_progress(text: str, preview: Optional[bytes]) -> None:
            await interaction.edit_original_response(content=text, attachments=[], view=rendering_view(ticket))

        reporter = ProgressReporter(show_progress, min_interval=self.settings.progress_edit_interval_s)
        label = sheet.label
        try:
            async for event in job.events():
                if isinstance(event, Queued):
                    await reporter.update(ProgressState(stage="queued", position=event.position, label=label))
                elif isinstance(event, Waiting):
                    await reporter.update(ProgressState(stage="queued", label=label, waiting=event.reason))
                elif isinstance(event, Started):
                    await reporter.update(ProgressState(stage="running", fraction=0.0, label=label))
                elif isinstance(event, JobProgress):
                    state = ProgressState(stage="running", fraction=event.fraction, eta_s=event.eta_s, label=label)
                    await reporter.update(state)
                elif isinstance(event, Done):
                    await reporter.close()
                    png = event.result.data
                    self.sheets.remember(sheet.key, png)
                    await interaction.edit_original_response(
                        content=sheet.caption(), attachments=[sheet.file(png)], view=sheet.view()
                    )
                    return
                elif isinstance(event, (Failed, Cancelled)):
                    await reporter.close()
                    if isinstance(event, Failed):
                        text = f"⚠️ That sheet failed: {as_sentence(event.reason)}"
                    else:
                        text = f"✖️ Sheet cancelled.\n-# {label}"
                    await interaction.edit_original_response(content=text, attachments=[], view=None)
                    return
        except asyncio.CancelledError:
            await asyncio.shield(job.cancel())
            raise
        except discord.HTTPException:
            log.warning("atlas sheet: could not update the message", exc_info=True)
        finally:
            await reporter.close()
            self.rendering.pop(ticket, None)

    async def _last_picture(self, user_id: int) -> tuple[Any, list[str]]:
        """The still picture of the user's newest dream that had one (a clip is passed
        over: a filter is tried on a picture), else None (noise), with a note for the result."""
        page = await self.store.list_history(user_id, page=0, page_size=RECENT_DREAMS)
        dreams: list[DreamInfo] = list(page.items)
        clip_limits = self.runner.limits.image_limits.clip
        for dream in dreams:
            if dream.source is None:
                continue
            try:
                image = await stored_image(self.files, dream.source, f"dream-{dream.id}", clip_limits)
            except UserError:  # that picture is gone: look further back
                continue
            except ClipRejected:  # a clip beyond today's limits: not a picture either
                continue
            if image is None or image.clip is not None:
                continue
            return image, []
        return None, [NO_PICTURE_NOTE]
