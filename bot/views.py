"""Buttons and modals of DreamBot's messages.

Every button but the short-lived :class:`ConfirmView` is a persistent :class:`discord.ui.DynamicItem`: its state lives
in its ``custom_id`` (``dream:again:42``, ``page:history:<user>:2``,
``vote:7``), so buttons keep working after a restart. The bot registers them
with ``bot.add_dynamic_items(*DYNAMIC_ITEMS)``. The buttons only parse their
id and hand over to the service that owns the behaviour, found on the client
(:class:`ViewHost`: ``client.buttons``, ``client.gallery``, ``client.pagers``).
This module imports none of them: it is the leaf the runner and the cogs build
their messages from.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Optional, Protocol, cast

import discord
from discord import ui

from bot.replies import SORRY, UserError, send_error
from bot.store.errors import StoreError

log = logging.getLogger(__name__)

# action -> (label, emoji, style)
DREAM_ACTIONS: dict[str, tuple[str, str, discord.ButtonStyle]] = {
    "again": ("Dream again", "🔁", discord.ButtonStyle.primary),
    "deeper": ("Deeper", "🌀", discord.ButtonStyle.primary),
    "save": ("Save as preset", "💾", discord.ButtonStyle.secondary),
    "publish": ("Publish", "🖼️", discord.ButtonStyle.secondary),
    "delete": ("Delete", "🗑️", discord.ButtonStyle.danger),
    "cancel": ("Cancel", "✖️", discord.ButtonStyle.danger),
}
RESULT_ACTIONS = ("again", "deeper", "save", "publish", "delete")

PAGE_KINDS = ("history", "recent", "top")


# kind -> renderer(interaction, scope, page) used by the persistent page buttons
Pager = Callable[[discord.Interaction, int, int], Awaitable[None]]


class DreamButtons(Protocol):
    """What a dream's buttons hand over to (:class:`bot.buttons.ButtonController`)."""

    async def allowed(self, interaction: discord.Interaction, action: str, dream_id: int) -> bool: ...

    async def on_button(self, interaction: discord.Interaction, action: str, dream_id: int) -> None: ...

    async def save_preset_from_dream(self, interaction: discord.Interaction, dream_id: int, name: str) -> None: ...


class Voting(Protocol):
    """What the ⭐ button hands over to (:class:`bot.gallery_service.GalleryService`)."""

    async def vote(self, interaction: discord.Interaction, entry_id: int) -> None: ...


class ViewHost(Protocol):
    """The client, as the buttons see it (:class:`bot.app.DreamBot`)."""

    @property
    def buttons(self) -> DreamButtons: ...
    @property
    def gallery(self) -> Voting: ...
    @property
    def pagers(self) -> Mapping[str, Pager]: ...


def _host(interaction: discord.Interaction) -> ViewHost:
    return cast(ViewHost, interaction.client)


class DreamButton(
    ui.DynamicItem[ui.Button], template=rf"dream:(?P<action>{'|'.join(DREAM_ACTIONS)}):(?P<id>[0-9]+)"
):
    """A button acting on one dream: again, deeper, save, publish, delete, cancel."""

    def __init__(self, action: str, dream_id: int, *, disabled: bool = False) -> None:
        label, emoji, style = DREAM_ACTIONS[action]
        super().__init__(
            ui.Button(
                label=label,
                emoji=emoji,
                style=style,
                custom_id=f"dream:{action}:{dream_id}",
                disabled=disabled,
            )
        )
        self.action = action
        self.dream_id = dream_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: Any, /
    ) -> DreamButton:
        return cls(match["action"], int(match["id"]))

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Ownership (delete: the dreamer; cancel: the dreamer or an admin), answered when refused."""
        return await _host(interaction).buttons.allowed(interaction, self.action, self.dream_id)

    async def callback(self, interaction: discord.Interaction) -> None:
        await _host(interaction).buttons.on_button(interaction, self.action, self.dream_id)


class PageButton(
    ui.DynamicItem[ui.Button],
    template=r"page:(?P<kind>history|recent|top):(?P<scope>[0-9]+):(?P<page>[0-9]+)(?::(?P<tag>[a-z]))?",
):
    """Previous/next page of a paged list (history of a user, gallery of a guild)."""

    def __init__(self, kind: str, scope: int, page: int, *, label: str, disabled: bool = False, tag: str = "") -> None:
        custom_id = f"page:{kind}:{scope}:{page}" + (f":{tag}" if tag else "")
        super().__init__(
            ui.Button(label=label, style=discord.ButtonStyle.secondary, custom_id=custom_id, disabled=disabled)
        )
        self.kind = kind
        self.scope = scope
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: Any, /
    ) -> PageButton:
        return cls(match["kind"], int(match["scope"]), int(match["page"]), label="·", tag=match["tag"] or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        pager = _host(interaction).pagers.get(self.kind)
        if pager is None:
            await interaction.response.send_message("That list isn't available right now.", ephemeral=True)
            return
        await pager(interaction, self.scope, self.page)


class PageLabel(ui.DynamicItem[ui.Button], template=r"pageno:(?P<rest>[a-z0-9:]+)"):
    """The disabled "2/5" between the arrows. Dynamic only so that paged messages need
    no per-message view in memory (every button of them is template-dispatched)."""

    def __init__(self, custom_id: str, label: str) -> None:
        super().__init__(ui.Button(label=label, disabled=True, custom_id=custom_id))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: Any, /
    ) -> PageLabel:
        return cls(f"pageno:{match['rest']}", "·")

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()  # disabled: Discord never sends this


class VoteButton(ui.DynamicItem[ui.Button], template=r"vote:(?P<entry>[0-9]+)"):
    """Vote for (or un-vote) a gallery entry."""

    def __init__(self, entry_id: int, votes: int = 0) -> None:
        super().__init__(
            ui.Button(
                label=f"{votes}",
                emoji="⭐",
                style=discord.ButtonStyle.success,
                custom_id=f"vote:{entry_id}",
            )
        )
        self.entry_id = entry_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: Any, /
    ) -> VoteButton:
        return cls(int(match["entry"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _host(interaction).gallery.vote(interaction, self.entry_id)


DYNAMIC_ITEMS = (DreamButton, PageButton, PageLabel, VoteButton)


def result_view(dream_id: int) -> ui.View:
    """The buttons under a finished dream."""
    view = ui.View(timeout=None)
    for action in RESULT_ACTIONS:
        view.add_item(DreamButton(action, dream_id))
    return view


def cancel_view(dream_id: int) -> ui.View:
    """The Cancel button under a queued or running dream."""
    view = ui.View(timeout=None)
    view.add_item(DreamButton("cancel", dream_id))
    return view


def pager_row(
    view: ui.View, kind: str, scope: int, page: int, pages: int, *, extra: Optional[list[ui.Item[Any]]] = None
) -> ui.View:
    """Add ◀ page/pages ▶ buttons (plus ``extra`` items) to ``view``."""
    view.add_item(PageButton(kind, scope, max(0, page - 1), label="◀", disabled=page <= 0, tag="p"))
    view.add_item(PageLabel(f"pageno:{kind}:{scope}:{page}", f"{page + 1}/{max(1, pages)}"))
    view.add_item(PageButton(kind, scope, page + 1, label="▶", disabled=page + 1 >= pages, tag="n"))
    for item in extra or ():
        view.add_item(item)
    return view


class SavePresetModal(ui.Modal, title="Save as preset"):
    """Asks the name under which a dream's settings are saved."""

    name: ui.TextInput[SavePresetModal] = ui.TextInput(
        label="Preset name", placeholder="e.g. trippy-dogs", min_length=1, max_length=32, custom_id="name"
    )

    def __init__(self, dream_id: int) -> None:
        super().__init__(custom_id=f"savepreset:{dream_id}", timeout=600)
        self.dream_id = dream_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await _host(interaction).buttons.save_preset_from_dream(interaction, self.dream_id, str(self.name.value))

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]
        log.exception("save-preset modal failed", exc_info=error)
        if not interaction.response.is_done():
            await interaction.response.send_message("Something went wrong saving that preset.", ephemeral=True)


class ConfirmView(ui.View):
    """Confirm / Cancel buttons under an ephemeral question, for one user, for ``timeout`` seconds.

    Not persistent on purpose: a confirmation must not outlive the question (after a
    restart or the timeout the buttons are gone or disabled). ``on_confirm`` runs once,
    with the click's interaction (not yet acknowledged). Cancel and the timeout edit the
    question to say nothing happened. Start it with :meth:`send`.
    """

    def __init__(
        self,
        user_id: int,
        on_confirm: Callable[[discord.Interaction], Awaitable[None]],
        *,
        timeout: float = 60.0,
        confirm_label: str = "Confirm",
        cancelled_text: str = "Cancelled — nothing changed.",
        timeout_text: str = "No answer in time — nothing changed.",
        key: str = "confirm",
    ) -> None:
        super().__init__(timeout=timeout)
        self.user_id = user_id
        self._on_confirm = on_confirm
        self._cancelled_text = cancelled_text
        self._timeout_text = timeout_text
        self._question: Optional[discord.Interaction] = None
        self.answer: Optional[bool] = None  # True confirmed, False cancelled, None timed out / pending
        self.confirm_button: ui.Button[ConfirmView] = ui.Button(
            label=confirm_label, style=discord.ButtonStyle.danger, custom_id=f"{key}:yes:{user_id}"
        )
        self.cancel_button: ui.Button[ConfirmView] = ui.Button(
            label="Cancel", style=discord.ButtonStyle.secondary, custom_id=f"{key}:no:{user_id}"
        )
        self.confirm_button.callback = self._confirm  # type: ignore[method-assign]
        self.cancel_button.callback = self._cancel  # type: ignore[method-assign]
        self.add_item(self.confirm_button)
        self.add_item(self.cancel_button)

    async def send(self, interaction: discord.Interaction, content: str) -> None:
        """Ask ``content`` as the ephemeral answer to ``interaction``."""
        self._question = interaction
        await interaction.response.send_message(content, view=self, ephemeral=True)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.user_id:
            await interaction.response.send_message("That question isn't yours.", ephemeral=True)
            return False
        return True

    def _close(self) -> None:
        for child in self.children:
            if isinstance(child, ui.Button):
                child.disabled = True
        self.stop()

    async def _confirm(self, interaction: discord.Interaction) -> None:
        if self.answer is not None:
            return
        self.answer = True
        self._close()
        await self._on_confirm(interaction)

    async def _cancel(self, interaction: discord.Interaction) -> None:
        if self.answer is not None:
            return
        self.answer = False
        self._close()
        await interaction.response.edit_message(content=self._cancelled_text, view=None)

    async def on_timeout(self) -> None:
        if self.answer is not None or self._question is None:
            return
        self._close()
        try:
            await self._question.edit_original_response(content=self._timeout_text, view=None)
        except discord.HTTPException:  # dismissed, or the token expired: nothing to tell
            log.debug("could not edit a timed-out confirmation", exc_info=True)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: ui.Item[Any]) -> None:
        if isinstance(error, (UserError, StoreError)):
            await send_error(interaction, str(error))
            return
        log.exception("confirmation failed", exc_info=error)
        await send_error(interaction, SORRY)
