"""BatchNorm folding: in eval mode ``bn(conv(x))`` is one convolution with scaled weights and a bias.

Folding saves a full memory pass over every activation in the forward and
the backward pass (BatchNorm's own op and its saved input), with the same
function up to float rounding.
"""

from __future__ import annotations

import torch
from torch import nn


def fold_bn(
    conv: nn.Conv2d,
    bn: nn.BatchNorm2d,
    padding: int | tuple[int, ...] | str | None = None,
) -> nn.Conv2d:
    """A plain conv equal to ``bn(conv(x))`` in eval mode (``padding``: the conv's own when None)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # type: ignore[operator, arg-type]
    fused = nn.Conv2d(  # on the meta device: no random init, its tensors are set below
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,  # type: ignore[arg-type]
        conv.stride,  # type: ignore[arg-type]
        conv.padding if padding is None else padding,  # type: ignore[arg-type]
        dilation=conv.dilation,  # type: ignore[arg-type]
        groups=conv.groups,
        bias=True,
        device="meta",
    )
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)  # type: ignore[arg-type]
    with torch.no_grad():
        fused.weight = nn.Parameter(conv.weight * scale.view(-1, 1, 1, 1), conv.weight.requires_grad)
        fused.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias, conv.weight.requires_grad)  # type: ignore[operator]
    return fused


def fold_batchnorms(module: nn.Module) -> int:
    """Fold every BatchNorm that directly follows a conv, in place; returns how many were folded.

    Two patterns (torchvision's): a ``Sequential`` with a conv then a BatchNorm,
    and a module with attribute pairs ``conv``/``bn``, ``conv1``/``bn1`` ...
    (whose forward applies each bn right after its conv). A folded BatchNorm
    becomes ``nn.Identity``.
    """
    n = 0
    for child in list(module.modules()):
        if isinstance(child, nn.Sequential):
            items = list(child)
            for i in range(len(items) - 1):
                if isinstance(items[i], nn.Conv2d) and isinstance(
                    items[i + 1], nn.BatchNorm2d
                ):
                    child[i] = fold_bn(items[i], items[i + 1])  # type: ignore[arg-type]
                    child[i + 1] = nn.Identity()
                    n += 1
            continue
        for name, sub in list(child.named_children()):
            if not (isinstance(sub, nn.Conv2d) and name.startswith("conv")):
                continue
            bn_name = "bn" + name[len("conv") :]
            bn = getattr(child, bn_name, None)
            if isinstance(bn, nn.BatchNorm2d):
                setattr(child, name, fold_bn(sub, bn))
                setattr(child, bn_name, nn.Identity())
                n += 1
    return n
