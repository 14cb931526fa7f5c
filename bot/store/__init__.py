"""DreamBot's persistence layer: presets, dream history, guild galleries, votes,
users and guild settings in a SQL database, and images in a content-addressed
file store. Shared by the bot (``bot/``) and the web gallery (``bot/web/``).

Opening
-------
``store = await Store.open(settings=None)`` (settings from
:func:`bot.settings.get_settings`; upgrades the schema to the latest migration,
removes temp files left by a crash) or ``Store(Database(url), FileStore(root),
max_presets_per_user=25)``. ``await store.close()`` at shutdown;
``await store.ping()`` for health checks. The database is ``DREAMBOT_DATABASE_URL``
(any SQLAlchemy async URL, e.g. ``postgresql+asyncpg://...``), default
``sqlite+aiosqlite:///<DREAMBOT_DATA_DIR>/dreambot.db``; files go to
``<DREAMBOT_DATA_DIR>/files``. At bot start, ``await store.claim_unfinished()`` says what the
last process left (``resume.py``).

Every ``Store`` method is ``async``, runs in its own transaction and returns
frozen dataclasses from :mod:`bot.store.records` (no session needed). Refusals
raise :class:`StoreError` subclasses whose ``str()`` is a user-readable sentence;
:class:`DatabaseError` (bad URL, missing driver, unreachable server, unwritable
data folder) is the admin-facing one, raised by ``Store.open``/``upgrade``.
Permissions from Discord (moderator = e.g. Manage Messages) are decided by the
caller and passed as ``moderator=True``.

Users and guilds (``users.py``, ``guilds.py``; the default preset in ``presets.py``)
    touch_user(user_id, display_name=None) -> UserInfo
    get_user(user_id) -> UserInfo                                  NotFound
    set_gallery_opt_out(user_id, opt_out) -> UserInfo
    set_default_preset(user_id, name | None) -> PresetInfo | None   NotFound
    get_default_preset(user_id) -> PresetInfo | None
    delete_user_data(user_id) -> DeletionReport   (rows + files no one else uses)
    collect_garbage(*, min_age_s=3600) -> int   (files no dream refers to, e.g. after a crash)
    touch_guild(guild_id, name=None) -> GuildInfo   (new guilds: gallery "unlisted")
    get_guild(guild_id) -> GuildInfo                                NotFound
    set_gallery_visibility(guild_id, "public"|"unlisted"|"off", guild_name=None) -> GuildInfo
    rotate_gallery_token(guild_id) -> GuildInfo
    guild_by_token(token) -> GuildInfo   (unlisted/public galleries; NotFound)
    list_public_galleries() -> list[GallerySummary(guild, entries, latest)]

Presets (``presets.py``): names trimmed, 1-64 chars, no control characters,
unique per owner ignoring case; params validated by ``parse_params``.
    create_preset(owner_id, name, params, *, shared=False, owner_name=None) -> PresetInfo
        PresetNameInvalid, PresetParamsInvalid, PresetExists, PresetLimitReached
    update_preset(owner_id, name, *, params=None, shared=None, new_name=None) -> PresetInfo
    delete_preset(owner_id, name) -> PresetInfo                     NotFound
    get_preset(user_id, name) -> PresetInfo   (own first, then shared; NotFound)
    get_preset_by_id(preset_id, *, user_id=None) -> PresetInfo
    list_presets(user_id, prefix="", *, limit=25, include_shared=True) -> list[PresetInfo]
    count_presets(owner_id) -> int
    use_preset(preset_id) -> int   (new use count)
    ``PresetInfo.params`` -> DreamParams; ``.params_data`` the stored dict.

Dreams (``dreams.py``): queued -> running -> done | failed | cancelled
    create_dream(user_id, params, *, guild_id=None, channel_id=None, message_id=None,
                 source: FileRef | None = None, source_url=None,
                 guide: FileRef | None = None, user_name=None, guild_name=None,
                 reply_token=None, reply_expires_at=None, upload_limit=None) -> DreamInfo
    mark_running(dream_id) -> DreamInfo                              InvalidTransition
    mark_done(dream_id, result: FileRef, *, width, height, seconds, is_animation=False,
              params=None, model=None, seed=None, undelivered=False) -> DreamInfo
    mark_failed(dream_id, error) -> DreamInfo
    mark_cancelled(dream_id, reason=None) -> DreamInfo
    set_dream_messages(dream_id, *, channel_id=None, message_id=None,
                       result_message_id=None) -> DreamInfo
    get_dream(dream_id) -> DreamInfo                                 NotFound
    list_history(user_id, *, page=0, page_size=10, statuses=None) -> Page[DreamInfo]
    delete_dream(dream_id, *, by_user_id=None) -> DeletionReport   NotAllowed, InvalidTransition
    ``DreamInfo``: id, user_id, guild_id, channel_id, message_id, result_message_id,
    source_url, source (FileRef|None), guide (FileRef|None: the guide image),
    params (DreamParams) / params_data, model, seed,
    status (DreamStatus), error, created_at, started_at, finished_at, result
    (FileRef|None), width, height, size_bytes, seconds, is_animation; and for the durable
    queue reply_token, reply_expires_at, upload_limit, interruptions, undelivered.

The durable queue (``resume.py``): what a starting bot does with the last process's dreams
    claim_unfinished(*, max_interruptions=2) -> ResumePlan(resume, given_up, undelivered)
        (``running`` rows count an interruption; at 2 they fail with GIVEN_UP_REASON)
    hand_over(dream_id) -> bool   (clean shutdown: back to queued, no interruption)
    mark_delivered(dream_id)      (the result reached the user; the token is dropped)

Gallery and votes (``gallery.py``)
    publish(dream_id, guild_id, *, by_user_id, moderator=False, title=None,
            guild_name=None) -> GalleryItem
        NotFound, NotAllowed (not the author; author opted out), NotFinished, AlreadyPublished
    unpublish(entry_id, *, by_user_id, moderator=False) -> None      NotAllowed
    hide_entry(entry_id, *, moderator) / unhide_entry(...) -> GalleryItem   NotAllowed
    get_entry(entry_id, *, include_hidden=False) -> GalleryItem      NotFound
    find_entry(guild_id, dream_id) -> GalleryItem | None
    vote(entry_id, user_id, *, user_name=None) / unvote(entry_id, user_id) -> VoteState
    vote_count(entry_id) -> int;  has_voted(entry_id, user_id) -> bool
    list_gallery(guild_id, *, sort="recent"|"top", page=0, page_size=10,
                 include_hidden=False) -> Page[GalleryItem]
    list_public_covers() -> list[(GallerySummary, GalleryItem)]   (public galleries with
                 entries, most recently active first, each with its top entry: the web front page)
    public_layer_dreams(model, layer, *, filter=None, limit=12) -> list[GalleryItem]
                 (``atlas_dreams.py``: public galleries' shown dreams that targeted an own layer,
                 or one filter of it, newest first: the web atlas's filter pages)
    ``GalleryItem``: id, guild_id, dream (DreamInfo), author_id, author_name,
    published_by, title, created_at, hidden, votes.
    ``Page``: items, page, page_size, total, pages, has_next, has_prev.

Files (``files.py``) -- ``store.files`` is a :class:`FileStore` (blocking; ``a*`` async twins)
    put(data, ext=None) -> FileRef(sha256, ext, size, content_type)   (type sniffed)
    read(sha) -> bytes;  open(sha) -> BinaryIO;  exists(sha) -> bool;  ref(sha) -> FileRef
    path_for(sha, ext=None) -> Path   (only from a validated sha; FileMissing)
    thumbnail(sha, max_px=320) -> sha of a cached WebP (or JPEG) thumbnail
    delete(sha) -> bool;  cleanup_temp() -> int;  stored() -> Iterator[(sha, Path)]
    aput / aread / athumbnail
    Missing files raise :class:`FileMissing` (a StoreError), never a crash.

Schema and migrations (``models.py``, ``migrate.py``, top-level ``migrations/``)
    ``Base``, ``User``, ``Guild``, ``Preset``, ``Dream``, ``GalleryEntry``, ``Vote``;
    ``DreamStatus``, ``GalleryVisibility``.
    ``upgrade(url=None, revision="head")``, ``downgrade(url, revision)``,
    ``current(url=None) -> str | None`` (blocking; from async code use
    ``await upgrade_async(url=None)``); ``db_cli.add_db_subcommands(subparsers)`` adds
    ``dreambot db upgrade|downgrade|current|delete-user|gc``. Migrating is safe when
    several processes start at once.
"""

from bot.store.database import Database
from bot.store.errors import (
    AlreadyPublished,
    DatabaseError,
    FileMissing,
    InvalidTransition,
    NotAllowed,
    NotFinished,
    NotFound,
    PresetExists,
    PresetLimitReached,
    PresetNameInvalid,
    PresetParamsInvalid,
    StoreError,
)
from bot.store.files import FileRef, FileStore
from bot.store.models import DreamStatus, GalleryVisibility
from bot.store.records import (
    DeletionReport,
    DreamInfo,
    GalleryItem,
    GallerySummary,
    GuildInfo,
    Page,
    PresetInfo,
    UserInfo,
    VoteState,
)
from bot.store.service import Store

__all__ = [
    "AlreadyPublished",
    "Database",
    "DatabaseError",
    "DeletionReport",
    "DreamInfo",
    "DreamStatus",
    "FileMissing",
    "FileRef",
    "FileStore",
    "GalleryItem",
    "GallerySummary",
    "GalleryVisibility",
    "GuildInfo",
    "InvalidTransition",
    "NotAllowed",
    "NotFinished",
    "NotFound",
    "Page",
    "PresetExists",
    "PresetInfo",
    "PresetLimitReached",
    "PresetNameInvalid",
    "PresetParamsInvalid",
    "Store",
    "StoreError",
    "UserInfo",
    "VoteState",
]
