"""The persistent buttons and menu under an ``/atlas`` sheet.

◀ ▶ turn the page, a select menu "Dream with filter N" starts a dream with that filter
and ✖️ cancels a sheet being rendered. Like :mod:`bot.views`, every item is a
:class:`discord.ui.DynamicItem` whose state lives in its ``custom_id``
(``atlas:page:<model>:<layer>:<page>:n``, ``atlas:pick:<model>:<layer>:<page>``,
``atlas:cancel:<ticket>``), so a sheet posted before a restart keeps working. The items
only parse their id and hand over to the client's ``atlas`` service
(:class:`bot.atlas_service.AtlasService`); this module imports none of it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol, cast

import discord
from discord import ui

from bot.views import DREAM_ACTIONS

#: model and layer names as they appear in a custom_id (no ':')
_NAME = r"[A-Za-z0-9_.\-]+"
NAME_RE = re.compile(_NAME)
_SHEET = rf"(?P<model>{_NAME}):(?P<layer>{_NAME}):(?P<page>[0-9]+)"


class AtlasActions(Protocol):
    """What the atlas items hand over to (:class:`bot.atlas_service.AtlasService`)."""

    async def turn(self, interaction: discord.Interaction, model: str, layer: str, page: int) -> None: ...

    async def pick(self, interaction: discord.Interaction, model: str, layer: str, page: int, value: str) -> None: ...

    async def cancel_allowed(self, interaction: discord.Interaction, ticket: int) -> bool: ...

    async def cancel(self, interaction: discord.Interaction, ticket: int) -> None: ...


class _AtlasHost(Protocol):
    @property
    def atlas(self) -> AtlasActions: ...


def _atlas(interaction: discord.Interaction) -> AtlasActions:
    return cast(_AtlasHost, interaction.client).atlas


class AtlasPageButton(ui.DynamicItem[ui.Button], template=rf"atlas:page:{_SHEET}:(?P<tag>[pn])"):
    """◀ or ▶: show another page of the same layer (edits the sheet's message)."""

    def __init__(self, model: str, layer: str, page: int, *, tag: str, disabled: bool = False) -> None:
        super().__init__(
            ui.Button(
                emoji="◀️" if tag == "p" else "▶️",
                style=discord.ButtonStyle.secondary,
                custom_id=f"atlas:page:{model}:{layer}:{page}:{tag}",
                disabled=disabled,
            )
        )
        self.model, self.layer, self.page = model, layer, page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: Any, /
    ) -> AtlasPageButton:
        return cls(match["model"], match["layer"], int(match["page"]), tag=match["tag"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _atlas(interaction).turn(interaction, self.model, self.layer, self.page)


class AtlasPageLabel(ui.DynamicItem[ui.Button], template=rf"atlas:at:{_SHEET}"):
    """The disabled "2/7" between the arrows (dynamic so a sheet needs no view in memory)."""

    def __init__(self, model: str, layer: str, page: int, pages: int = 0) -> None:
        label = f"{page}/{pages}" if pages else str(page)
        super().__init__(ui.Button(label=label, disabled=True, custom_id=f"atlas:at:{model}:{layer}:{page}"))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: Any, /
    ) -> AtlasPageLabel:
        return cls(match["model"], match["layer"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()  # disabled: Discord never sends this


class AtlasFilterSelect(ui.DynamicItem[ui.Select], template=rf"atlas:pick:{_SHEET}"):
    """"Dream with filter N": one option per filter of the page."""

    def __init__(self, model: str, layer: str, page: int, filters: Sequence[int] = ()) -> None:
        options = [discord.SelectOption(label=f"Dream with filter {n}", value=str(n)) for n in filters]
        select: ui.Select[Any] = ui.Select(
            custom_id=f"atlas:pick:{model}:{layer}:{page}",
            placeholder="Dream with filter…",
            options=options or [discord.SelectOption(label="·", value="-1")],
            min_values=1,
            max_values=1,
        )
        super().__init__(select)
        self.model, self.layer, self.page = model, layer, page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: Any, /
    ) -> AtlasFilterSelect:
        return cls(match["model"], match["layer"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        values = self.item.values
        await _atlas(interaction).pick(interaction, self.model, self.layer, self.page, values[0] if values else "")


class AtlasCancelButton(ui.DynamicItem[ui.Button], template=r"atlas:cancel:(?P<ticket>[0-9]+)"):
    """✖️ under a sheet being rendered: the one who asked for it, or an admin, may stop it."""

    def __init__(self, ticket: int) -> None:
        label, emoji, style = DREAM_ACTIONS["cancel"]
        super().__init__(ui.Button(label=label, emoji=emoji, style=style, custom_id=f"atlas:cancel:{ticket}"))
        self.ticket = ticket

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: Any, /
    ) -> AtlasCancelButton:
        return cls(int(match["ticket"]))

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await _atlas(interaction).cancel_allowed(interaction, self.ticket)

    async def callback(self, interaction: discord.Interaction) -> None:
        await _atlas(interaction).cancel(interaction, self.ticket)


ATLAS_ITEMS = (AtlasPageButton, AtlasPageLabel, AtlasFilterSelect, AtlasCancelButton)


def sheet_view(model: str, layer: str, page: int, pages: int, filters: Sequence[int]) -> ui.View:
    """◀ page/pages ▶ and the "Dream with filter N" menu under a sheet."""
    view = ui.View(timeout=None)
    view.add_item(AtlasPageButton(model, layer, max(1, page - 1), tag="p", disabled=page <= 1))
    view.add_item(AtlasPageLabel(model, layer, page, pages))
    view.add_item(AtlasPageButton(model, layer, min(pages, page + 1), tag="n", disabled=page >= pages))
    view.add_item(AtlasFilterSelect(model, layer, page, filters))
    return view


def rendering_view(ticket: int) -> ui.View:
    """The Cancel button under a sheet being rendered."""
    view = ui.View(timeout=None)
    view.add_item(AtlasCancelButton(ticket))
    return view
