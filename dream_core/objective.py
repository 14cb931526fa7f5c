"""What a dream ascends: the objective over the target layers' activations (plain or guided)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dream_core.models import ResolvedTerm


class Objective:
    """What a dream maximises, evaluated on a dict of activations.

    Plain terms: weighted mean of squared activations (of one filter when a
    term names one). With a guide: for every position of the dream's features,
    the best dot product with any position of the guide's features (the
    classic guided DeepDream), mixed with the plain objective by
    ``guide_weight`` (1 = guide only, 0.5 = half each, 0 = ignore the guide).

    ``novelty``: per layer, a unit direction in its feature space (the picture's own mean
    feature, :func:`picture_directions`). A whole-layer plain term of such a layer ascends
    the activations less their component along it: what the picture does not show yet,
    rather than more of what it shows (the catalog's ``novelty_layers``: the highest layers,
    which otherwise grow a cup into more cup).
    """

    def __init__(
        self,
        terms: Sequence[ResolvedTerm],
        guide_features: dict[str, torch.Tensor] | None = None,
        guide_weight: float = 1.0,
        novelty: dict[str, torch.Tensor] | None = None,
    ) -> None:
        self.novelty = novelty or {}
        self.terms = list(terms)
        self.layers = sorted({t.layer for t in self.terms})
        self.guide = guide_features
        self.guide_weight = guide_weight if guide_features is not None else 0.0
        self.plain_weight = max(0.0, 1.0 - self.guide_weight) if guide_features is not None else 1.0

    @staticmethod
    def _select(act: torch.Tensor, channel: int | None) -> torch.Tensor:
        return act[:, channel : channel + 1] if channel is not None else act

    def __call__(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        total: torch.Tensor | float = 0.0
        for t in self.terms:
            act = self._select(feats[t.layer], t.channel).float()
            if self.plain_weight > 0:
                plain = act
                u = self.novelty.get(t.layer) if t.channel is None else None
                if u is not None:
                    u = u.to(act.device, act.dtype).view(1, -1, 1, 1)
                    plain = act - (act * u).sum(dim=1, keepdim=True) * u
                # the mean square as a norm: its backward is one layout-keeping product (pow().mean()'s
                # expanded NCHW gradient against a channels-last activation took 7x as long)
                mean_sq = torch.linalg.vector_norm(plain).square() / plain.numel()
                total = total + self.plain_weight * t.weight * mean_sq
            if self.guide is not None and self.guide_weight > 0:
                g = self._select(self.guide[t.layer], t.channel).float()  # [1, C, h, w]
                x = act.flatten(2)[0]  # [C, N]
                y = g.flatten(2)[0]  # [C, M]
                best = (x.t() @ y).max(dim=1).values  # [N]
                total = total + self.guide_weight * t.weight * best.mean() / max(1, x.shape[0])
        assert isinstance(total, torch.Tensor)
        return total


def picture_directions(features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per layer, the unit direction of a picture's mean feature ([1, C, h, w] -> [C])."""
    out = {}
    for layer, f in features.items():
        m = f.float().mean(dim=(0, 2, 3))
        out[layer] = m / m.norm().clamp_min(1e-12)
    return out
