"""Errors the store raises. Every message is fit to show a Discord user as is."""

from __future__ import annotations


class StoreError(Exception):
    """Base class: a refused or impossible store operation (``str(exc)`` is user-readable)."""


class DatabaseError(StoreError):
    """The database cannot be used: a bad ``DREAMBOT_DATABASE_URL``, a missing driver, an
    unreachable server, an unwritable data folder. Meant for the server admin."""


class NotFound(StoreError):
    """The preset, dream, gallery entry, user or guild does not exist (or is not visible)."""


class NotAllowed(StoreError):
    """The caller may not do this (not the owner, not a moderator, opted out...)."""


class PresetNameInvalid(StoreError):
    """A preset name breaks the naming rules (1-64 characters, no control characters)."""


class PresetParamsInvalid(StoreError):
    """A preset's parameters do not validate as ``DreamParams``."""


class PresetExists(StoreError):
    """The owner already has a preset of that name."""


class PresetLimitReached(StoreError):
    """The owner has as many presets as allowed (``max_presets_per_user``)."""


class AlreadyPublished(StoreError):
    """The dream is already in that guild's gallery."""


class NotFinished(StoreError):
    """Only finished (done) dreams may be published."""


class InvalidTransition(StoreError):
    """A dream's status cannot change that way (e.g. a finished dream cannot start again)."""


class FileMissing(StoreError):
    """An image referenced by the database is not in the file store (deleted or lost)."""
