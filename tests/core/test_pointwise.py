"""1x1 convolutions as matrix products: conv2d's values and input gradients, only where they apply."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dream_core.models.pointwise import PointwiseConv2d, pointwise_convs


def _pair(c: int, k: int, bias: bool = True) -> tuple[nn.Conv2d, PointwiseConv2d]:
    torch.manual_seed(c + k)
    conv = nn.Conv2d(c, k, 1, bias=bias).requires_grad_(False)
    return conv, PointwiseConv2d(conv)


def _ran_as_products(y: torch.Tensor) -> bool:
    return y.grad_fn is not None and "Pointwise" in type(y.grad_fn).__name__


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("relu", [False, True])
def test_forward_and_input_gradient_equal_conv2d(bias, relu):
    conv, pw = _pair(24, 40, bias)
    for h, w in [(9, 13), (1, 1), (32, 3)]:
        x = torch.randn(1, 24, h, w).contiguous(memory_format=torch.channels_last).requires_grad_(True)
        want_y = torch.relu(conv(x)) if relu else conv(x)
        got_y = pw(x, relu=relu)
        assert _ran_as_products(got_y)
        assert got_y.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(got_y, want_y, rtol=1e-5, atol=1e-5)
        for fmt in (torch.channels_last, torch.contiguous_format):  # the gradient may come in either layout
            g = torch.randn_like(want_y).contiguous(memory_format=fmt)
            (want,) = torch.autograd.grad(want_y, x, g, retain_graph=True)
            (got,) = torch.autograd.grad(got_y, x, g, retain_graph=True)
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_conv2d_where_the_products_do_not_apply():
    conv, pw = _pair(16, 8)
    x = torch.randn(1, 16, 5, 6)
    cl = x.contiguous(memory_format=torch.channels_last)
    for other in (x.requires_grad_(True), cl.repeat(2, 1, 1, 1).requires_grad_(True)):  # NCHW; a batch
        assert not _ran_as_products(pw(other))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not _ran_as_products(pw(cl.requires_grad_(True)))
    conv.requires_grad_(True)  # weights being trained: autograd's own path
    assert not _ran_as_products(pw(cl))
    y = pw(x.detach(), relu=True)
    assert (y >= 0).all() and (y == 0).any()  # the ReLU applies on the plain path too


def test_recasting_the_module_makes_the_matrices_again():
    conv, pw = _pair(8, 8)
    x = torch.randn(1, 8, 4, 4).contiguous(memory_format=torch.channels_last)
    pw(x)
    with torch.no_grad():
        conv.weight.mul_(2)
    pw.float()  # nn.Module._apply
    torch.testing.assert_close(pw(x), conv(x))


def test_pointwise_convs_wraps_only_plain_1x1_convolutions():
    strided, wide, grouped = nn.Conv2d(8, 8, 1, stride=2), nn.Conv2d(8, 8, 3), nn.Conv2d(8, 8, 1, groups=2)
    net = nn.Sequential(nn.Conv2d(8, 8, 1), strided, wide, grouped)
    assert pointwise_convs(net) == 1
    assert isinstance(net[0], PointwiseConv2d) and not isinstance(net[1], PointwiseConv2d)
    assert pointwise_convs(net) == 0
