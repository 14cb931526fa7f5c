"""Swapping a network's submodules in place for faster stand-ins (same function, same names)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

__all__ = ["swap_modules"]


def swap_modules(module: nn.Module, stand_in: Callable[[nn.Module], nn.Module | None], made: type[nn.Module]) -> int:
    """Replace each submodule of ``module`` that ``stand_in`` returns a replacement for (None: keep it),
    in place; how many. Nothing inside a ``made`` module (a stand-in) is looked at, so a second
    pass leaves the stand-ins and what they wrap alone."""
    n = 0
    for parent in list(module.modules()):
        if isinstance(parent, made):
            continue
        for name, child in list(parent.named_children()):
            new = stand_in(child)
            if new is not None:
                setattr(parent, name, new)
                n += 1
    return n
