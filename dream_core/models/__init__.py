"""Dreamable models: one module per architecture, a registry, a load cache.

>>> from dream_core.models import get_model
>>> model = get_model("efficientnet-lite0")          # cached, frozen, eval

Imports torch. Layer tables and target checks without torch: :mod:`dream_core.catalog`.
"""

from dream_core.models.base import DreamModel, LayerInfo, ModelSpec, WeightsSpec
from dream_core.models.registry import (
    DEFAULT_MODEL,
    MODELS,
    ModelListing,
    ResolvedTerm,
    clear_cache,
    get_model,
    get_spec,
    layer_names,
    layer_table,
    list_models,
    resolve_device,
    resolve_targets,
)

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "DreamModel",
    "LayerInfo",
    "ModelListing",
    "ModelSpec",
    "ResolvedTerm",
    "WeightsSpec",
    "clear_cache",
    "get_model",
    "get_spec",
    "layer_names",
    "layer_table",
    "list_models",
    "resolve_device",
    "resolve_targets",
]
