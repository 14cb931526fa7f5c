"""Target specs: which layers / filters a dream maximises, and with what weight.

Grammar: ``term ('+' term)*`` where ``term = layer [':' filter] ['*' weight]``.
Examples: ``mixed4``, ``mixed4:97``, ``mixed3*0.7+mixed5:12*0.3``.
Validation against a concrete model happens in :mod:`dream_core.catalog`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from dream_core.errors import DreamParamsError

_TERM = re.compile(
    r"^\s*(?P<layer>[A-Za-z_][A-Za-z0-9_.\-]*)\s*"
    r"(?::\s*(?P<filter>\d+)\s*)?"
    r"(?:\*\s*(?P<weight>[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*)?$"
)


@dataclass(frozen=True)
class TargetTerm:
    """One layer (optionally one filter of it) with a weight."""

    layer: str
    channel: Optional[int] = None
    weight: float = 1.0

    def __str__(self) -> str:
        s = self.layer
        if self.channel is not None:
            s += f":{self.channel}"
        if self.weight != 1.0:
            s += f"*{self.weight:g}"
        return s


def parse_target_spec(spec: str) -> list[TargetTerm]:
    """Parse a target spec; raises :class:`DreamParamsError` on bad syntax."""
    if not spec or not spec.strip():
        raise DreamParamsError("layer: empty target spec (try 'mixed4')")
    terms: list[TargetTerm] = []
    for raw in spec.split("+"):
        m = _TERM.match(raw)
        if not m:
            raise DreamParamsError(
                f"layer: can't read {raw.strip()!r}; use LAYER, LAYER:FILTER or LAYER*WEIGHT joined by '+'"
            )
        weight = float(m["weight"]) if m["weight"] is not None else 1.0
        if weight <= 0:
            raise DreamParamsError(f"layer: weight of {raw.strip()!r} must be positive")
        channel = int(m["filter"]) if m["filter"] is not None else None
        terms.append(TargetTerm(m["layer"], channel, weight))
    if len(terms) > 8:
        raise DreamParamsError("layer: at most 8 terms in a target spec")
    return terms
