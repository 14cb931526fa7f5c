"""The atlas's side of the store: published dreams that used a layer or one of its filters.

A dream records its target spec in its params (``"mixed4:97"``, ``"mixed3*0.7+block10:5"``,
or nothing for the default layer), written with aliases or own layer names. The
query narrows the public galleries' shown entries of one model with ``LIKE`` on the
spec (JSON ``params->layer``, on SQLite and PostgreSQL alike) for every name of the
layer, then parses each candidate's spec exactly (:func:`dream_core.catalog.resolve_targets`).
Entries are walked newest first in batches (keyset on the entry id) and the walk stops
at :data:`MAX_SCANNED` candidates, so a page costs a bounded number of rows; the web
keeps the result until the database changes. No index: the walk reads the gallery
entries (far fewer than dreams) by primary key, and the dreams they point to by theirs.
"""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import or_, select

from bot.store.base import StoreBase
from bot.store.gallery import _item, _shown_where, _votes
from bot.store.models import Dream, DreamStatus, GalleryEntry, GalleryVisibility, Guild, User
from bot.store.records import GalleryItem
from dream_core import catalog
from dream_core.errors import DreamParamsError

#: candidates read per query
BATCH = 200
#: candidates read at most for one answer
MAX_SCANNED = 2000


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def uses(model: str, spec: Optional[str], layer: str, filter: Optional[int]) -> bool:
    """Whether a dream of ``model`` with target ``spec`` (None: the default layer) targets the
    own layer ``layer`` (and, when ``filter`` is given, that filter of it)."""
    try:
        terms = catalog.resolve_targets(model, spec or catalog.DEFAULT_LAYER)
    except (DreamParamsError, ValueError):  # a spec from an older version that no longer parses
        return False
    return any(t.layer == layer and (filter is None or t.channel == filter) for t in terms)


class AtlasDreamOps(StoreBase):
    async def public_layer_dreams(
        self, model: str, layer: str, *, filter: Optional[int] = None, limit: int = 12
    ) -> list[GalleryItem]:
        """Entries of *public* galleries (shown: not hidden, author not opted out, finished)
        whose dream ran on ``model`` and targeted its own layer ``layer`` (and ``filter`` of it,
        when given), newest first, one entry per dream. Unlisted galleries are never listed."""
        try:
            info = catalog.get_info(model)
        except DreamParamsError:
            return []
        names = [name for name in info.layer_names() if info.canonical(name) == layer]
        if not names:
            return []
        column = Dream.params["layer"].as_string()
        suffix = f":{filter}" if filter is not None else ""
        matches: list[Any] = [column.like(f"%{_escape_like(n + suffix)}%", escape="\\") for n in names]
        if filter is None and info.canonical(catalog.DEFAULT_LAYER) == layer:
            matches.append(column.is_(None))
        query = (
            select(GalleryEntry, Dream, User, _votes())
            .join(Dream, Dream.id == GalleryEntry.dream_id)
            .join(User, User.id == Dream.user_id)
            .join(Guild, Guild.id == GalleryEntry.guild_id)
            .where(
                Guild.gallery_visibility == GalleryVisibility.PUBLIC.value,
                Dream.model == model,
                Dream.status == DreamStatus.DONE.value,
                Dream.result_sha256.is_not(None),
                or_(*matches),
                *_shown_where(),
            )
            .order_by(GalleryEntry.id.desc())
            .limit(BATCH)
        )
        found: list[GalleryItem] = []
        seen: set[int] = set()
        before: Optional[int] = None
        async with self.db.read() as s:
            for _ in range(MAX_SCANNED // BATCH):
                q = query if before is None else query.where(GalleryEntry.id < before)
                rows = (await s.execute(q)).all()
                for entry, dream, author, votes in rows:
                    if dream.id in seen or not uses(model, (dream.params or {}).get("layer"), layer, filter):
                        continue
                    seen.add(dream.id)
                    found.append(_item(entry, dream, author, votes))
                    if len(found) >= limit:
                        return found
                if len(rows) < BATCH:
                    break
                before = rows[-1][0].id
        return found


__all__ = ["AtlasDreamOps", "uses"]
