"""Links between the atlas and the gallery, both ways.

A dream's page links each term of its target spec to the atlas (``mixed4:97`` to
filter 97 of ``block10``, ``mixed3`` to the layer); a filter's page lists the public
galleries' dreams that used the filter, then those that used its layer
(:meth:`bot.store.Store.public_layer_dreams`), kept until the database changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from bot.web.gallery import ANONYMOUS
from bot.web.urls import atlas_url, dream_url, file_version, image_url
from dream_core import catalog
from dream_core.errors import DreamParamsError

#: dreams listed on a filter's page, for the filter and for its layer
DREAMS_SHOWN = 8


def friendly_layer(model: str, layer: str) -> str:
    """The name people use for an own layer: its first alias (``mixed4``), else the name itself."""
    info = catalog.get_info(model)
    return next((alias for alias, own in info.aliases.items() if own == layer), layer)


def layer_aliases(model: str, layer: str) -> list[str]:
    info = catalog.get_info(model)
    return [alias for alias, own in info.aliases.items() if own == layer]


def dream_line(model: str, layer: str, filter: Optional[int] = None) -> str:
    """The ``/dream`` line that amplifies ``filter`` of own layer ``layer`` (or the whole layer)."""
    spec = friendly_layer(model, layer) + (f":{filter}" if filter is not None else "")
    line = f"/dream layer:{spec}"
    if model != catalog.DEFAULT_MODEL:
        line += f" model:{model}"
    return line


@dataclass(frozen=True)
class AtlasLink:
    label: str
    url: str


def dream_targets(model: str, spec: str) -> list[AtlasLink]:
    """For a dream's page: each term of its target spec as a link to the atlas (a spec that
    no longer parses, from an older version, links nowhere)."""
    try:
        terms = catalog.resolve_targets(model, spec)
    except (DreamParamsError, ValueError):
        return []
    links: list[AtlasLink] = []
    for t in terms:
        name = t.spec_name.split("*")[0].split(":")[0]
        if t.channel is not None:
            link = AtlasLink(f"{name} filter {t.channel}", atlas_url(model, t.layer, t.channel))
        else:
            link = AtlasLink(f"layer {name}", atlas_url(model, t.layer))
        if link not in links:
            links.append(link)
    return links


@dataclass(frozen=True)
class DreamCard:
    """A published dream on a filter's page."""

    id: int
    url: str
    thumb_url: str
    author: str
    title: Optional[str]
    layer: str  # its target spec as written
    guild: str


def _card(item: Any, guilds: dict[int, str]) -> DreamCard:
    d = item.dream
    return DreamCard(
        id=item.id,
        url=dream_url(item.id),
        thumb_url=image_url(item.id, "thumb", version=file_version(d.result.sha256)),
        author=item.author_name or ANONYMOUS,
        title=item.title,
        layer=str((d.params_data or {}).get("layer") or catalog.DEFAULT_LAYER),
        guild=guilds.get(item.guild_id, ""),
    )


async def filter_dreams(store: Any, model: str, layer: str, filter: int) -> tuple[list[DreamCard], list[DreamCard]]:
    """Published dreams (public galleries) that used this filter, and others that used its layer."""
    with_filter = await store.public_layer_dreams(model, layer, filter=filter, limit=DREAMS_SHOWN)
    seen = {item.dream.id for item in with_filter}
    with_layer = [
        item for item in await store.public_layer_dreams(model, layer, limit=DREAMS_SHOWN + len(seen))
        if item.dream.id not in seen
    ][:DREAMS_SHOWN]
    guilds = {}
    for item in with_filter + with_layer:
        if item.guild_id not in guilds:
            guilds[item.guild_id] = (await store.get_guild(item.guild_id)).name or f"Server {item.guild_id}"
    return [_card(i, guilds) for i in with_filter], [_card(i, guilds) for i in with_layer]

