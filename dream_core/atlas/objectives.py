"""What each image of an atlas batch ascends: a score per image, computed from one forward pass.

* :class:`ChannelObjective` -- image ``i`` maximises the mean of channel ``c_i`` of one
  layer (a page of filters, each image its own filter).
* :class:`TermsObjective` -- every image maximises the same target spec, the syntax dreams
  take (``mixed4``, ``mixed4:97``, ``mixed3*0.7+mixed5:12*0.3``, resolved by
  :func:`dream_core.catalog.resolve_targets`): a filter term scores its channel's mean, a
  whole-layer term the mean square of the layer (DeepDream's objective).
* :func:`diversity_score` -- images that share an objective are pushed apart: minus the
  mean pairwise cosine similarity of their Gram matrices (style) at a layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dream_core.catalog import ResolvedTerm

__all__ = ["BatchObjective", "ChannelObjective", "TermsObjective", "diversity_score"]


class BatchObjective:
    """A score per image (``[B]``, higher is better) from the activations of ``layers``."""

    layers: list[str]

    def __call__(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError


class ChannelObjective(BatchObjective):
    """Image ``i`` scores the spatial mean of channel ``channels[i]`` of ``layer``."""

    def __init__(self, layer: str, channels: Sequence[int]) -> None:
        self.layers = [layer]
        self.layer = layer
        self.channels = torch.as_tensor(list(channels), dtype=torch.long)

    def __call__(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        act = feats[self.layer]
        idx = self.channels.to(act.device)
        rows = torch.arange(act.shape[0], device=act.device)
        return act[rows, idx].float().mean(dim=(1, 2))


class TermsObjective(BatchObjective):
    """Every image scores the weighted sum of a resolved target spec's terms."""

    def __init__(self, terms: Sequence[ResolvedTerm]) -> None:
        self.terms = list(terms)
        self.layers = sorted({t.layer for t in self.terms})

    def __call__(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        total: torch.Tensor | None = None
        for t in self.terms:
            act = feats[t.layer].float()
            score = act[:, t.channel].mean(dim=(1, 2)) if t.channel is not None else act.pow(2).mean(dim=(1, 2, 3))
            total = t.weight * score if total is None else total + t.weight * score
        assert total is not None, "a target spec has at least one term"
        return total


def diversity_score(act: torch.Tensor, group: int) -> torch.Tensor:
    """``[B]``: minus each image's mean cosine similarity of Gram matrices to the rest of its group.

    Images ``[g * group, (g + 1) * group)`` form group ``g``; a group of one scores 0.
    """
    b, c = act.shape[:2]
    if group <= 1:
        return act.new_zeros(b, dtype=torch.float32)
    flat = act.float().flatten(2)  # [B, C, N]
    gram = torch.bmm(flat, flat.transpose(1, 2)).flatten(1) / flat.shape[2]
    gram = torch.nn.functional.normalize(gram, dim=1).view(b // group, group, -1)
    sim = torch.bmm(gram, gram.transpose(1, 2))  # [G, group, group]
    off = sim.sum(dim=2) - sim.diagonal(dim1=1, dim2=2)
    return -(off / (group - 1)).flatten()
