"""The image-facing strided convolution: its input gradient by phases equals autograd's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dream_core.models.phase_conv import PhaseConv2d, for_image

CASES = [  # kernel, stride, padding
    (7, 2, 3),  # GoogLeNet's and ResNet's conv1
    (3, 2, 0),
    (5, 2, 2),
    (3, 2, 1),
    (4, 2, 1),  # an even kernel
    (3, 3, 1),  # another stride
    (7, 2, 0),  # no padding at all
]
SIZES = [(64, 64), (65, 63), (31, 40), (17, 17), (8, 9)]


@pytest.mark.parametrize(("kernel", "stride", "padding"), CASES)
def test_input_gradient_equals_autograd(kernel, stride, padding):
    gen = torch.Generator().manual_seed(kernel * 10 + stride)
    conv = nn.Conv2d(3, 16, kernel, stride, padding).double().requires_grad_(False)
    phase = PhaseConv2d(conv)
    for h, w in SIZES:
        x = torch.rand(1, 3, h, w, dtype=torch.float64, generator=gen).requires_grad_(True)
        want_y, got_y = conv(x), phase(x)
        assert torch.equal(want_y, got_y)  # the forward is the convolution itself
        g = torch.randn(want_y.shape, dtype=torch.float64, generator=gen)
        (want,) = torch.autograd.grad(want_y, x, g)
        (got,) = torch.autograd.grad(got_y, x, g)
        assert got.shape == x.shape
        assert torch.allclose(got, want, rtol=0, atol=1e-12 * want.abs().max().item()), (h, w)


def test_bf16_autocast_gradient_close_to_autograd():
    """Under bf16 autocast (GoogLeNet's choice on AVX512-BF16 CPUs) both round alike; float32 gradient back."""
    torch.manual_seed(1)
    conv = nn.Conv2d(3, 64, 7, 2, 3).requires_grad_(False)
    phase = PhaseConv2d(conv)
    x = torch.rand(1, 3, 97, 80, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want_y, got_y = conv(x), phase(x)
    assert got_y.dtype == torch.bfloat16 and torch.equal(want_y, got_y)
    g = torch.randn_like(want_y)
    (want,) = torch.autograd.grad(want_y, x, g)
    (got,) = torch.autograd.grad(got_y, x, g)
    assert got.dtype == torch.float32
    rel = ((got - want).abs().max() / want.abs().max()).item()
    assert rel < 2e-2, rel  # bf16 sums in another order; a real mistake is O(1)


def test_channels_last_input_and_no_grad():
    conv = nn.Conv2d(3, 8, 3, 2, 1).requires_grad_(False)
    phase = PhaseConv2d(conv)
    x = torch.rand(1, 3, 33, 20).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert torch.equal(phase(x), conv(x))
    xg = x.clone().requires_grad_(True)
    (got,) = torch.autograd.grad(phase(xg).sum(), xg)
    (want,) = torch.autograd.grad(conv(xg).sum(), xg)
    assert torch.allclose(got, want, atol=1e-6)


def test_only_plain_strided_convs_are_wrapped():
    assert isinstance(for_image(nn.Conv2d(3, 8, 3, 2, 1)), PhaseConv2d)
    for conv in (nn.Conv2d(3, 8, 3, 1, 1), nn.Conv2d(4, 8, 3, 2, 1, groups=2), nn.Conv2d(3, 8, 3, 2, 1, dilation=2)):
        assert for_image(conv) is conv
    valid = nn.Conv2d(3, 8, 3, 2, padding="valid")  # padding by name
    assert for_image(valid) is valid
    with pytest.raises(ValueError, match="padding"):
        PhaseConv2d(valid)


def test_trainable_weights_keep_autograd():
    """Weights that need their own gradient (not a dream) get the plain path and get it."""
    conv = nn.Conv2d(3, 4, 3, 2, 1)
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    PhaseConv2d(conv)(x).sum().backward()
    assert conv.weight.grad is not None and x.grad is not None


@pytest.mark.slow  # imports torchvision (1.4 s) to build its GoogLeNet
def test_googlenet_gradient_equals_torchvision(googlenet_weights):
    """The whole dream model (folded BatchNorm, one-step input transform, phase conv1)
    gives the image gradient of torchvision's own GoogLeNet cut at inception4c.

    In float64, so that rounding cannot flip ReLU masks (local jumps) and hide a mistake.
    """
    import copy

    from torchvision.models import googlenet

    from dream_core.models import get_model

    net = googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=True)
    sd = torch.load(googlenet_weights, map_location="cpu", weights_only=True)
    net.load_state_dict(sd, strict=False)
    net.eval().requires_grad_(False).double()
    ours = copy.deepcopy(get_model("googlenet", "cpu", weights=str(googlenet_weights))).double()
    assert isinstance(ours.stages[0].conv, PhaseConv2d)
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)

    def theirs(x: torch.Tensor) -> torch.Tensor:
        h = net._transform_input((x - mean) / std)
        for name in ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b",
                     "maxpool3", "inception4a", "inception4b", "inception4c"):  # fmt: skip
            h = getattr(net, name)(h)
        return h

    x = torch.rand(1, 3, 101, 86, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    x.requires_grad_(True)
    (want,) = torch.autograd.grad(theirs(x).pow(2).mean(), x)
    (got,) = torch.autograd.grad(ours.features(x, ["inception4c"])["inception4c"].pow(2).mean(), x)
    rel = (torch.linalg.vector_norm(got - want) / torch.linalg.vector_norm(want)).item()
    assert rel < 1e-5, rel  # BatchNorm folded in float32
