"""Guild galleries: publishing finished dreams, moderation (hide/unhide), votes and
listings by recent or top."""

from __future__ import annotations

from typing import Any, Literal, Optional

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.base import StoreBase, clip, run_count
from bot.store.errors import AlreadyPublished, NotAllowed, NotFinished, NotFound
from bot.store.models import TITLE_MAX, Dream, DreamStatus, GalleryEntry, GalleryVisibility, Guild, User, Vote
from bot.store.records import GalleryItem, GallerySummary, Page, VoteState, aware, dream_info, guild_info

GallerySort = Literal["recent", "top"]


def _votes() -> Any:
    """An entry's vote count, as a correlated subquery: one probe of the votes' primary
    key (entry_id, user_id) per entry, never a scan of every vote."""
    return (
        select(func.count())
        .select_from(Vote)
        .where(Vote.entry_id == GalleryEntry.id)
        .correlate(GalleryEntry)
        .scalar_subquery()
    )


def _opted_out_dreams() -> Select:
    """The dreams of authors who opted out of galleries: few, so ``dream_id NOT IN`` this
    set is one small lookup per entry, where joining every entry to its dream and author
    was two."""
    return select(Dream.id).join(User, User.id == Dream.user_id).where(User.gallery_opt_out.is_(True))


def _shown_where(include_hidden: bool = False) -> list[Any]:
    """What an entry needs to be shown: not hidden, its author has not opted out."""
    where = [GalleryEntry.dream_id.not_in(_opted_out_dreams())]
    if not include_hidden:
        where.append(GalleryEntry.hidden.is_(False))
    return where


def _shown(guild_id: Any, include_hidden: bool = False) -> Select:
    """The ids of a guild's entries that its gallery shows."""
    return select(GalleryEntry.id).where(GalleryEntry.guild_id == guild_id, *_shown_where(include_hidden))


def _order(sort: GallerySort, *, backwards: bool = False) -> list[Any]:
    """``recent`` walks the (guild_id, created_at) index backwards: no sort, and a page stops
    reading once it has its rows (ids break ties; SQLite's index holds them too). ``top``
    counts every entry's votes (one index probe each) and sorts. ``backwards``: the same
    order from its other end (ties are broken by id, so it is exactly the reverse)."""
    keys = [_votes(), GalleryEntry.id] if sort == "top" else [GalleryEntry.created_at, GalleryEntry.id]
    return [key.asc() if backwards else key.desc() for key in keys]


def _item(entry: GalleryEntry, dream: Dream, author: User, votes: Any) -> GalleryItem:
    return GalleryItem(
        id=entry.id,
        guild_id=entry.guild_id,
        dream=dream_info(dream),
        author_id=dream.user_id,
        author_name=author.display_name or "",
        published_by=entry.published_by,
        title=entry.title,
        created_at=aware(entry.created_at),  # type: ignore[arg-type]
        hidden=bool(entry.hidden),
        votes=int(votes or 0),
    )


class GalleryOps(StoreBase):
    async def publish(
        self,
        dream_id: int,
        guild_id: int,
        *,
        by_user_id: int,
        moderator: bool = False,
        title: Optional[str] = None,
        guild_name: Optional[str] = None,
    ) -> GalleryItem:
        """Publish a finished dream to a guild's gallery.

        The dream's owner may publish it anywhere; a moderator (the caller decides,
        from Discord permissions) may publish other people's dreams made in that
        guild. Raises :class:`NotFound`, :class:`NotAllowed` (someone else's dream,
        or its author opted out of galleries), :class:`NotFinished` (not ``done``)
        or :class:`AlreadyPublished` (once per guild).
        """
        title = clip(title.strip(), TITLE_MAX) if title and title.strip() else None
        try:
            async with self.db.write() as s:
                dream = await s.get(Dream, dream_id)
                if dream is None:
                    raise self._missing("That dream")
                if dream.user_id != by_user_id and not (moderator and dream.guild_id == guild_id):
                    raise NotAllowed("Only the dream's author can publish it.")
                author = await s.get(User, dream.user_id)
                if author is not None and author.gallery_opt_out:
                    raise NotAllowed("The author of this dream has opted out of galleries.")
                if dream.status != DreamStatus.DONE.value:
                    raise NotFinished("Only finished dreams can be published.")
                exists = await s.scalar(
                    select(GalleryEntry.id).where(
                        GalleryEntry.guild_id == guild_id, GalleryEntry.dream_id == dream_id
                    )
                )
                if exists:
                    raise AlreadyPublished("This dream is already in this server's gallery.")
                await self._ensure_guild(s, guild_id, guild_name)
                await self._ensure_user(s, by_user_id)
                entry = GalleryEntry(guild_id=guild_id, dream_id=dream_id, published_by=by_user_id, title=title)
                s.add(entry)
                await s.flush()
                assert author is not None
                return _item(entry, dream, author, 0)
        except IntegrityError:  # published concurrently (non-SQLite)
            raise AlreadyPublished("This dream is already in this server's gallery.") from None

    async def unpublish(self, entry_id: int, *, by_user_id: int, moderator: bool = False) -> None:
        """Remove an entry (and its votes) from its gallery: only the dream's author or a
        moderator may. Raises :class:`NotFound` / :class:`NotAllowed`."""
        async with self.db.write() as s:
            entry, dream = await self._entry_and_dream(s, entry_id)
            if dream.user_id != by_user_id and not moderator:
                raise NotAllowed("Only the dream's author or a moderator can unpublish it.")
            await s.execute(delete(Vote).where(Vote.entry_id == entry_id))
            await s.delete(entry)

    async def hide_entry(self, entry_id: int, *, moderator: bool) -> GalleryItem:
        """Hide an entry from listings (moderators only; :class:`NotAllowed` otherwise)."""
        return await self._set_hidden(entry_id, True, moderator)

    async def unhide_entry(self, entry_id: int, *, moderator: bool) -> GalleryItem:
        """Show a hidden entry again (moderators only)."""
        return await self._set_hidden(entry_id, False, moderator)

    async def get_entry(self, entry_id: int, *, include_hidden: bool = False) -> GalleryItem:
        """One entry with its vote count. Hidden entries and entries of opted-out authors
        are :class:`NotFound` unless ``include_hidden``."""
        async with self.db.read() as s:
            row = (await s.execute(self._item_query().where(GalleryEntry.id == entry_id))).first()
            if row is None:
                raise self._missing("That gallery entry")
            entry, dream, author, votes = row
            if not include_hidden and (entry.hidden or author.gallery_opt_out):
                raise self._missing("That gallery entry")
            return _item(entry, dream, author, votes)

    async def find_entry(self, guild_id: int, dream_id: int) -> Optional[GalleryItem]:
        """The entry of ``dream_id`` in ``guild_id``'s gallery (hidden ones included), or ``None``."""
        async with self.db.read() as s:
            entry_id = await s.scalar(
                select(GalleryEntry.id).where(GalleryEntry.guild_id == guild_id, GalleryEntry.dream_id == dream_id)
            )
        if entry_id is None:
            return None
        return await self.get_entry(entry_id, include_hidden=True)

    async def vote(self, entry_id: int, user_id: int, *, user_name: Optional[str] = None) -> VoteState:
        """Vote for an entry (one vote per user; voting again changes nothing).
        Raises :class:`NotFound` for unknown or hidden entries."""
        async with self.db.write() as s:
            await self._visible_entry(s, entry_id)
            await self._ensure_user(s, user_id, user_name)
            existing = await s.get(Vote, (entry_id, user_id))
            changed = False
            if existing is None:
                try:
                    async with s.begin_nested():
                        s.add(Vote(entry_id=entry_id, user_id=user_id))
                    changed = True
                except IntegrityError:  # voted concurrently (non-SQLite)
                    pass
            votes = await self._count(s, entry_id)
            return VoteState(entry_id=entry_id, votes=votes, voted=True, changed=changed)

    async def unvote(self, entry_id: int, user_id: int) -> VoteState:
        """Take a vote back (no vote: changes nothing). Raises :class:`NotFound` for unknown entries."""
        async with self.db.write() as s:
            if await s.get(GalleryEntry, entry_id) is None:
                raise self._missing("That gallery entry")
            n = await run_count(s, delete(Vote).where(Vote.entry_id == entry_id, Vote.user_id == user_id))
            votes = await self._count(s, entry_id)
            return VoteState(entry_id=entry_id, votes=votes, voted=False, changed=n > 0)

    async def vote_count(self, entry_id: int) -> int:
        """How many votes an entry has."""
        async with self.db.read() as s:
            return await self._count(s, entry_id)

    async def has_voted(self, entry_id: int, user_id: int) -> bool:
        async with self.db.read() as s:
            return (await s.get(Vote, (entry_id, user_id))) is not None

    async def list_gallery(
        self,
        guild_id: int,
        *,
        sort: GallerySort = "recent",
        page: int = 0,
        page_size: int = 10,
        include_hidden: bool = False,
    ) -> Page[GalleryItem]:
        """One page of a guild's gallery: ``recent`` (newest first) or ``top`` (most votes,
        then newest), with vote counts and author names. Hidden entries (unless
        ``include_hidden``, for moderators) and opted-out authors' entries are left out."""
        if sort not in ("recent", "top"):
            raise ValueError("sort must be 'recent' or 'top'")
        page = max(0, int(page))
        page_size = max(1, min(int(page_size), 100))
        visible = _shown(guild_id, include_hidden)
        start = page * page_size
        async with self.db.read() as s:
            total = int(await s.scalar(select(func.count()).select_from(visible.subquery())) or 0)
            # the page's ids first, then only those rows in full. A page past the middle is
            # read from the other end: the database skips (and, for top, sorts) fewer rows
            if start >= total:
                ids: list[int] = []
            elif 2 * start < total:
                ids = list(await s.scalars(visible.order_by(*_order(sort)).offset(start).limit(page_size)))
            else:
                end = min(total, start + page_size)
                q = visible.order_by(*_order(sort, backwards=True)).offset(total - end).limit(end - start)
                ids = list(reversed(list(await s.scalars(q))))
            return Page(await self._items(s, ids), page, page_size, total)

    async def list_public_covers(self) -> list[tuple[GallerySummary, GalleryItem]]:
        """The public galleries that have entries to show, most recently active first
        (as :meth:`list_public_galleries` orders them), each with its cover: its top entry."""
        async with self.db.read() as s:
            counts = (
                select(
                    GalleryEntry.guild_id.label("guild_id"),
                    func.count(GalleryEntry.id).label("n"),
                    func.max(GalleryEntry.created_at).label("latest"),
                )
                .where(*_shown_where())
                .group_by(GalleryEntry.guild_id)
                .subquery()
            )
            rows = (
                await s.execute(
                    select(Guild, counts.c.n, counts.c.latest)
                    .join(counts, counts.c.guild_id == Guild.id)
                    .where(Guild.gallery_visibility == GalleryVisibility.PUBLIC.value)
                    .order_by(counts.c.latest.desc(), Guild.name, Guild.id)
                )
            ).all()
            covers = []
            for guild, _n, _latest in rows:
                top = _shown(guild.id).order_by(*_order("top")).limit(1)
                covers.append(await s.scalar(top))
            items = {item.id: item for item in await self._items(s, [c for c in covers if c is not None])}
            return [
                (GallerySummary(guild=guild_info(g), entries=int(n), latest=aware(latest)), items[cover])
                for (g, n, latest), cover in zip(rows, covers, strict=True)
                if cover in items
            ]

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _item_query() -> Select:
        return (
            select(GalleryEntry, Dream, User, _votes())
            .join(Dream, Dream.id == GalleryEntry.dream_id)
            .join(User, User.id == Dream.user_id)
        )

    async def _items(self, s: AsyncSession, ids: list[int]) -> list[GalleryItem]:
        """The entries ``ids`` in full, in that order."""
        if not ids:
            return []
        rows = {row[0].id: row for row in await s.execute(self._item_query().where(GalleryEntry.id.in_(ids)))}
        return [_item(*rows[i]) for i in ids if i in rows]

    async def _count(self, s: AsyncSession, entry_id: int) -> int:
        return int(await s.scalar(select(func.count()).select_from(Vote).where(Vote.entry_id == entry_id)) or 0)

    async def _entry_and_dream(self, s: AsyncSession, entry_id: int) -> tuple[GalleryEntry, Dream]:
        entry = await s.get(GalleryEntry, entry_id)
        if entry is None:
            raise self._missing("That gallery entry")
        dream = await s.get(Dream, entry.dream_id)
        assert dream is not None  # foreign key
        return entry, dream

    async def _visible_entry(self, s: AsyncSession, entry_id: int) -> GalleryEntry:
        entry, dream = await self._entry_and_dream(s, entry_id)
        author = await s.get(User, dream.user_id)
        if entry.hidden or (author is not None and author.gallery_opt_out):
            raise self._missing("That gallery entry")
        return entry

    async def _set_hidden(self, entry_id: int, hidden: bool, moderator: bool) -> GalleryItem:
        if not moderator:
            raise NotAllowed("Only moderators can hide or unhide gallery entries.")
        async with self.db.write() as s:
            entry, dream = await self._entry_and_dream(s, entry_id)
            entry.hidden = hidden
            await s.flush()
        return await self.get_entry(entry_id, include_hidden=True)


__all__ = ["GalleryOps", "GallerySort", "NotFound"]
