"""Exceptions of the dream core. Each carries a one-line, user-readable message."""

from __future__ import annotations


class DreamError(Exception):
    """Base class for all dream core errors."""


class DreamInputError(DreamError, ValueError):
    """The input image is unusable (corrupt, empty, not an image, too large...)."""


class DreamParamsError(DreamError, ValueError):
    """Parameters are invalid (unknown layer, filter out of range, bad spec...)."""


class DreamSettingError(DreamError, ValueError):
    """An environment setting of the dream core has a value it does not know."""


class ModelUnavailableError(DreamError, RuntimeError):
    """A model's weights cannot be loaded here (offline, no local file)."""


class DreamCancelled(DreamError):
    """The dream was cancelled through its cancel hook."""
