"""The atlas renderer on the real bundled model (efficientnet-lite0), at tiny sizes and few steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dream_core.atlas.objectives import ChannelObjective, TermsObjective, diversity_score
from dream_core.atlas.param import FourierImage
from dream_core.atlas.render import RenderSettings, render_filters, render_objective
from dream_core.atlas.transforms import Robustness, random_affine
from dream_core.catalog import resolve_targets
from dream_core.errors import DreamCancelled, DreamParamsError

FILTERS = (3, 40, 77, 101)  # of mixed4 (block10, 112 filters)


def as_batch(images: list[Image.Image]) -> torch.Tensor:
    return torch.stack([torch.from_numpy(np.array(im)).permute(2, 0, 1).float() / 255 for im in images])


@torch.no_grad()
def channel_means(model, images: list[Image.Image], layer: str = "block10") -> torch.Tensor:
    """``[images, channels]`` spatial means at ``layer``."""
    return model.features(as_batch(images), [layer])[layer].float().mean(dim=(2, 3))


@pytest.fixture(scope="module")
def page(model) -> list[Image.Image]:
    """Four filters of mixed4 rendered together at 48 px in 8 steps."""
    return [v[0] for v in render_filters(model, "mixed4", FILTERS, size=48, steps=8)]


def test_each_filter_wins_on_its_own_image(model, page):
    """Every filter of the batch is excited most by its own image: each image had its own objective."""
    acts = channel_means(model, page)[:, list(FILTERS)]  # [image, filter]
    assert acts.argmax(dim=0).tolist() == [0, 1, 2, 3], acts
    others = (acts.sum(dim=0) - acts.diagonal()) / 3
    assert bool((acts.diagonal() > others + 1.0).all()), acts


def test_page_is_one_image_per_filter_at_the_size(page):
    assert [im.size for im in page] == [(48, 48)] * 4
    assert all(im.mode == "RGB" for im in page)


def test_same_seed_same_pixels_other_seed_other_pixels(model):
    first, again, other = (render_filters(model, "mixed3", [7], size=32, steps=3, seed=s)[0][0] for s in (0, 0, 1))
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))


def test_diversity_gives_distinct_images_per_filter(model):
    out = render_filters(model, "mixed3", [5, 9], size=48, steps=6, diversity=3)
    assert [len(v) for v in out] == [3, 3]
    for variants in out:
        arrs = [np.asarray(im, dtype=np.float32) for im in variants]
        for i in range(3):
            for j in range(i + 1, 3):
                assert np.abs(arrs[i] - arrs[j]).mean() > 4, (i, j)


def test_bad_layer_filter_size_and_diversity_raise_before_rendering(model):
    with pytest.raises(DreamParamsError, match="no layer 'mixed9'.*valid: mixed3"):
        render_filters(model, "mixed9", [0])
    with pytest.raises(DreamParamsError, match=r"filter 112 out of range .*0\.\.111"):
        render_filters(model, "mixed4", [0, 112])
    with pytest.raises(DreamParamsError, match="size"):
        render_filters(model, "mixed4", [0], size=8)
    with pytest.raises(DreamParamsError, match="diversity"):
        render_filters(model, "mixed4", [0], diversity=0)
    with pytest.raises(DreamParamsError, match="no layer"):
        render_objective(model, "mixed4:3+nope")


def test_render_objective_mix_raises_its_objective(model):
    spec = "mixed4:97+mixed3:5*0.5"
    img = render_objective(model, spec, size=48, steps=10)
    obj = TermsObjective(resolve_targets(model.name, spec))
    with torch.no_grad():
        start = FourierImage(1, 48, 48, generator=torch.Generator().manual_seed(0))()
        before = float(obj(model.features(start, obj.layers))[0])
        after = float(obj(model.features(as_batch([img]), obj.layers))[0])
    assert img.size == (48, 48)
    assert after > before + 1.0, (before, after)


def test_progress_reaches_one_and_cancel_stops(model):
    seen: list[float] = []
    render_filters(model, "mixed3", [1], size=32, steps=3, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 3
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) >= 2

    with pytest.raises(DreamCancelled):
        render_filters(model, "mixed3", [1], size=32, steps=50, should_cancel=cancel)
    assert len(calls) == 2


def test_contrast_bound_keeps_pixels_off_the_end_stops():
    """However far the coefficients are pushed, the sigmoid never saturates most pixels."""
    image = FourierImage(4, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        image.coeffs.mul_(1e4)
        image.coeffs[..., 0, 0, :] += 1e5  # a huge mean, too
    assert image.clipped_share() < 0.05


def test_channel_objective_scores_each_image_on_its_own_channel():
    act = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    score = ChannelObjective("x", [2, 0])({"x": act})
    assert score.tolist() == [act[0, 2].mean().item(), act[1, 0].mean().item()]


def test_diversity_score_is_zero_alone_and_lower_for_lookalikes():
    a = torch.rand(1, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    b = torch.rand(1, 4, 3, 3, generator=torch.Generator().manual_seed(1))
    assert diversity_score(torch.cat([a, b]), 1).tolist() == [0.0, 0.0]
    same = diversity_score(torch.cat([a, a]), 2)
    apart = diversity_score(torch.cat([a, -b]), 2)
    assert torch.allclose(same, torch.tensor([-1.0, -1.0]))
    assert bool((apart > same).all())


def test_transform_identity_and_batchwise_randomness():
    x = torch.rand(3, 3, 32, 32)
    gen = torch.Generator().manual_seed(0)
    assert random_affine(x, Robustness(0, 1, 0), gen) is x
    same = x[:1].expand(3, -1, -1, -1).contiguous()
    y = random_affine(same, Robustness(), gen)
    assert y.shape == same.shape and not torch.allclose(y[0], y[1])
    assert random_affine(x, Robustness(), gen, out_side=24).shape == (3, 3, 24, 24)


@pytest.mark.slow
def test_default_settings_page_is_selective_and_natural(model):
    """The defaults users get (steps, contrast, transforms) at a small size: selective, few clipped pixels."""
    images = [v[0] for v in render_filters(model, "mixed4", FILTERS, size=96)]
    acts = channel_means(model, images)
    own = acts[:, list(FILTERS)]
    assert own.argmax(dim=0).tolist() == [0, 1, 2, 3]
    # the own filter is among the top few of all 112 relative to the batch's other images
    for i, f in enumerate(FILTERS):
        assert acts[i, f] > acts[:, f].mean() + 1.0
    for im in images:
        a = np.asarray(im)
        assert ((a <= 2) | (a >= 253)).any(axis=2).mean() <= 0.10
    assert RenderSettings().steps >= 16
