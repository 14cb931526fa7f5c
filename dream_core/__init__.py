"""dream_core: DeepDream with PyTorch, as a library and a CLI.

No Discord, no database, no network::

    from dream_core import DreamParams, dream, load_image
    result = dream(load_image("cat.jpg"), DreamParams(layer="mixed4", strength="high"))
    result.save("cat-dream.png")
"""

from dream_core.errors import (
    DreamCancelled,
    DreamError,
    DreamInputError,
    DreamParamsError,
    ModelUnavailableError,
)
from dream_core.params import STRENGTHS, DreamParams, parse_params
from dream_core.results import DreamResult, Progress
from dream_core.targets import TargetTerm, parse_target_spec

__all__ = [
    "DreamCancelled",
    "DreamError",
    "DreamInputError",
    "DreamParams",
    "DreamParamsError",
    "DreamResult",
    "ModelUnavailableError",
    "Progress",
    "STRENGTHS",
    "TargetTerm",
    "dream",
    "load_image",
    "parse_params",
    "parse_target_spec",
]


def __getattr__(name: str):  # lazy: importing params must not import torch
    if name == "dream":
        from dream_core.engine import dream

        return dream
    if name == "load_image":
        from dream_core.images import load_image

        return load_image
    raise AttributeError(name)
