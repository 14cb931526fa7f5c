"""The dream algorithm on the real bundled model, with small images and few steps."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
import torch
from PIL import Image

from dream_core.engine import dream, keep_colors, octave_sizes, zoom_rotate
from dream_core.errors import DreamCancelled, DreamParamsError
from dream_core.models import resolve_targets
from dream_core.objective import Objective
from dream_core.params import DreamParams
from dream_core.tensors import to_image, to_tensor
from dream_core.tiling import StepConfig, tile_gradient


def objective_value(model, img: Image.Image, spec: str) -> float:
    obj = Objective(resolve_targets(model.name, spec))
    with torch.no_grad():
        return float(obj(model.features(to_tensor(img), obj.layers)))


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.float32)


@pytest.mark.parametrize("spec", ["mixed4", "mixed3:5", "mixed5*0.5+block7:3"])
def test_dream_raises_the_target_activation(model, cat, fast, spec):
    result = dream(cat, fast.with_updates(layer=spec))
    before = objective_value(model, cat, spec)
    after = objective_value(model, result.image, spec)
    assert after > 1.1 * before, (before, after)


def test_same_seed_same_bytes_other_seed_other_bytes(cat, fast):
    a = dream(cat, fast).encode("png")
    b = dream(cat, fast).encode("png")
    c = dream(cat, fast.with_updates(seed=8)).encode("png")
    assert a == b
    assert a != c


def test_png_carries_params_that_reproduce_the_dream(cat, fast):
    from dream_core.images import read_params

    result = dream(cat, fast.with_updates(seed=None))  # seed chosen by resolved()
    data = result.encode("png")
    params = read_params(data)
    assert params.explicit() == result.params.explicit()  # what was set, and the seed
    assert params.resolved() == result.params and params.seed is not None and params.iterations == 3
    assert dream(cat, params).encode("png") == data


def test_different_layers_give_different_images(cat, fast):
    a = pixels(dream(cat, fast.with_updates(layer="mixed3")).image)
    b = pixels(dream(cat, fast.with_updates(layer="mixed5")).image)
    assert np.abs(a - b).mean() > 2.0


def test_bad_layer_fails_before_dreaming(cat, fast):
    with pytest.raises(DreamParamsError, match=r"0\.\.111"):
        dream(cat, fast.with_updates(layer="mixed4:9999"))
    with pytest.raises(DreamParamsError, match="valid: mixed3, mixed4"):
        dream(cat, fast.with_updates(layer="mixed4c"))


def test_octaves_run_small_to_large_and_carry_detail(cat):
    sizes = octave_sizes((96, 64), 3, 1.4)
    assert sizes == [(49, 33), (69, 46), (96, 64)]
    assert octave_sizes((40, 40), 4, 2.0) == [(40, 40)]  # too small octaves are dropped

    reports = []
    params = DreamParams(octaves=2, octave_scale=1.5, iterations=2, seed=3, jitter=4)
    result = dream(cat, params, progress=reports.append)
    assert [(r.octave, r.iteration) for r in reports] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    previews = [r.preview for r in reports if r.preview is not None]
    assert [p.size for p in previews] == [(64, 43), (96, 64)]  # small octave first, then full size
    one = dream(cat, params.with_updates(octaves=1))
    # the 2-octave dream carries large-scale detail from the small octave: not the same as 1 octave
    assert np.abs(pixels(result.image) - pixels(one.image)).mean() > 1.0
    assert result.image.size == cat.size


def test_progress_fractions_and_cancel(cat, fast):
    reports = []
    dream(cat, fast, progress=reports.append)
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert reports[-1].preview is not None and all(r.preview is None for r in reports[:-1])

    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(DreamCancelled):
        dream(cat, fast, cancel=cancel)
    assert len(calls) == 3


def test_spans_cover_on_the_stride_grid():
    from dream_core.tiling import _spans

    for length, tile in ((100, 64), (1000, 512), (4096, 512), (31, 64), (513, 512)):
        spans = _spans(length, tile)
        assert spans[0][0] == 0 and spans[-1][1] == length
        assert all(a % 32 == 0 and b > a for a, b in spans)
        assert all(b1 == a2 for (_, b1), (a2, _) in itertools.pairwise(spans))
        assert max(b - a for a, b in spans) <= 1.25 * tile + 32
    assert _spans(600, 512) == [(0, 600)]  # a bit over a tile is still one pass


def test_tiled_gradient_matches_whole_image_gradient(model, sample_image):
    x = to_tensor(sample_image.resize((192, 128)))
    obj = Objective(resolve_targets(model.name, "mixed3"))
    whole = tile_gradient(model, x, obj, StepConfig(tile=512))
    tiled = tile_gradient(model, x, obj, StepConfig(tile=64))
    corr = torch.corrcoef(torch.stack([whole.flatten(), tiled.flatten()]))[0, 1]
    assert corr > 0.95, corr
    assert (tiled.abs().mean() / whole.abs().mean() - 1).abs() < 0.1  # same scale
    assert not torch.equal(whole, tiled)  # it really did tile


def test_activation_memory_scales_with_tile_not_image(model):
    """Peak size of any activation while dreaming barely changes for a 4x larger image."""
    peaks = []
    for side in (192, 384):
        biggest = [0]

        def hook(module, inputs, output, biggest=biggest):
            biggest[0] = max(biggest[0], output.numel())

        handles = [s.register_forward_hook(hook) for s in model.stages]
        try:
            img = Image.effect_noise((side, side), 50).convert("RGB")
            dream(img, DreamParams(octaves=1, iterations=1, tile_size=64, jitter=0, seed=1))
        finally:
            for h in handles:
                h.remove()
        peaks.append(biggest[0])
    assert peaks[1] <= 1.6 * peaks[0]  # tiles may differ a little in size (stride-aligned cuts)
    # untiled, the 384 px image would need (384/(64+2*32))^2 = 9x more
    with torch.no_grad():
        stem = model.features(torch.rand(1, 3, 384, 384), ["stem"])["stem"].numel()
    assert peaks[1] * 4 < stem


def test_shifted_tile_gradient_equals_the_gradient_of_the_rolled_image(model, sample_image):
    """Tiles read at wrap-around indices give exactly the rolled image's gradient, rolled back."""
    x = to_tensor(sample_image.resize((192, 128)))
    obj = Objective(resolve_targets(model.name, "mixed3"))
    shift = (45, -70)
    for tile in (64, 512):  # tiled and single pass
        cfg = StepConfig(tile=tile)
        ours = tile_gradient(model, x, obj, cfg, shift=shift)
        rolled = tile_gradient(model, torch.roll(x, shift, dims=(2, 3)), obj, cfg)
        assert torch.equal(ours, torch.roll(rolled, (-shift[0], -shift[1]), dims=(2, 3))), tile
    assert torch.equal(x, to_tensor(sample_image.resize((192, 128))))  # the image is not touched


def test_smoothing_by_strips_in_place_matches_one_pass(monkeypatch):
    from dream_core import smoothing

    g = torch.randn(1, 3, 150, 90, generator=torch.Generator().manual_seed(0))
    whole = smoothing.smooth_gradient(g.clone(), 2.0, 0.7)  # 150x90 px: one strip
    monkeypatch.setattr(smoothing, "SMOOTH_PIXELS", 90 * 20)  # strips of 20 rows, halo of 12
    buf = g.clone()
    strips = smoothing.smooth_gradient(buf, 2.0, 0.7)
    assert strips is buf  # written in place
    assert torch.allclose(strips, whole, atol=1e-6), (strips - whole).abs().max()
    assert not torch.allclose(whole, g, atol=0.1)  # it really smoothed


@pytest.mark.slow  # dreams large images
def test_peak_memory_per_extra_pixel_is_a_few_image_copies():
    """In a fresh process, the peak (VmHWM) of one tiled step grows by ~3 float copies of the image per pixel.

    A 1024 px then a 1536 px dream with 128 px tiles: the peak's growth between
    the two, per extra pixel, counts the image-sized buffers alive at the peak
    (the image, its gradient, the uint8 base, the input PIL image); the tiles'
    activations and the smoothing strips are the same size for both. Rolled
    copies, full-size smoothing and float conversions made it ~13. One process's
    figure varies (3.2-5.04 over 16 runs on a 2-core Zen 4, all of it anonymous memory:
    how the heap's freed blocks fall differs between runs), so the smaller of two is taken.
    """
    import subprocess
    import sys

    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from PIL import Image\n"
        "from dream_core.engine import dream\n"
        "from dream_core.params import DreamParams\n"
        "def hwm(): return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "p = DreamParams(octaves=1, iterations=1, tile_size=128, max_size=2048, seed=1)\n"
        "dream(Image.effect_noise((1024, 1024), 40).convert('RGB'), p)\n"
        "base = hwm()\n"
        "r = dream(Image.effect_noise((1536, 1536), 40).convert('RGB'), p)\n"
        "assert r.image.size == (1536, 1536)\n"
        "print(hwm() - base)\n"
    )
    growths = []
    for _ in range(2):  # the smaller of two processes (see above)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, check=False)
        assert proc.returncode == 0, proc.stderr
        growths.append(int(proc.stdout.strip().splitlines()[-1]) * 1024)  # bytes
    copies = min(growths) / ((1536**2 - 1024**2) * 3 * 4)
    assert copies < 5, copies


def test_zoom_animation(cat):
    params = DreamParams(octaves=1, iterations=2, zoom_frames=2, frame_iterations=1, zoom=1.2, seed=2)
    reports = []
    result = dream(cat, params, progress=reports.append)
    assert result.is_animation and len(result.frames) == 3
    assert {r.frame for r in reports} == {1, 2, 3} and reports[-1].frames == 3
    for fmt in ("webp", "gif"):
        with Image.open(io.BytesIO(result.encode(fmt))) as im:
            assert im.n_frames == 3
    mp4 = result.encode("mp4")
    assert mp4[4:8] == b"ftyp"


def test_zoom_rotate_zooms_into_the_centre():
    x = torch.zeros(1, 3, 100, 100)
    x[..., 40:60, 40:60] = 1.0  # a 20 px white square in the middle
    z = zoom_rotate(x, 2.0, 0.0)
    width = int((z[0, 0, 50] > 0.5).sum())
    assert 38 <= width <= 42
    r = zoom_rotate(x, 1.0, 45.0)
    assert r[0, 0, 50, 36] > 0.5 > x[0, 0, 50, 36]  # the rotated square's corner reaches further out


def test_guide_pulls_toward_the_guide_features(model, cat):
    guide = Image.fromarray(np.tile(np.linspace(0, 255, 96, dtype=np.uint8), (96, 1))).convert("RGB")
    guide = guide.rotate(45)  # diagonal stripes: very unlike a cat
    params = DreamParams(octaves=1, iterations=4, seed=5, layer="mixed3")
    plain = dream(cat, params).image
    guided = dream(cat, params, guide=guide).image

    from dream_core.engine import guide_features

    terms = resolve_targets(model.name, "mixed3")
    gobj = Objective(terms, guide_features(model, guide, ["block5"]), 1.0)

    def match(img):
        with torch.no_grad():
            return float(gobj(model.features(to_tensor(img), ["block5"])))

    assert match(guided) > 1.05 * match(plain), (match(guided), match(plain))


def test_keep_colors_keeps_the_original_chroma(cat, fast):
    def chroma(img):
        return np.asarray(img.convert("YCbCr"), dtype=np.float32)[..., 1:]

    plain = dream(cat, fast.with_updates(strength="extreme", iterations=4)).image
    kept = dream(cat, fast.with_updates(strength="extreme", iterations=4, keep_colors=True)).image
    orig = chroma(cat)
    assert np.abs(chroma(kept) - orig).mean() < 0.5 * np.abs(chroma(plain) - orig).mean()
    # luminance still dreamed
    assert np.abs(np.asarray(kept.convert("L"), np.float32) - np.asarray(cat.convert("L"), np.float32)).mean() > 2


def test_keep_colors_tensor_identity():
    x = torch.rand(1, 3, 8, 8)
    assert torch.allclose(keep_colors(x, x), x, atol=1e-5)


def test_dream_from_noise():
    result = dream(None, DreamParams(noise_size=64, octaves=1, iterations=2, seed=4))
    assert result.image.size == (64, 64)
    assert any("noise" in n for n in result.notes)


def test_max_size_downscales_with_a_note(cat):
    result = dream(cat, DreamParams(max_size=48, octaves=1, iterations=1, seed=1))
    assert max(result.image.size) == 48
    assert any("downscaled" in n for n in result.notes)
    assert result.input_size == cat.size


def test_alpha_is_kept(cat):
    rgba = cat.convert("RGBA")
    alpha = Image.new("L", cat.size, 255)
    alpha.paste(0, (0, 0, 30, 30))
    rgba.putalpha(alpha)
    result = dream(rgba, DreamParams(octaves=1, iterations=1, seed=1))
    assert result.image.mode == "RGBA"
    assert result.image.getchannel("A").getpixel((5, 5)) == 0
    assert result.image.getchannel("A").getpixel((60, 50)) == 255


def test_strength_presets_and_explicit_override(cat):
    counts = {}
    for strength in ("low", "high"):
        reports = []
        p = DreamParams(strength=strength, seed=1, iterations=1)  # explicit iterations win
        dream(cat, p, progress=reports.append)
        counts[strength] = (reports[-1].octaves, reports[-1].iterations)
    assert counts["low"][1] == counts["high"][1] == 1
    assert counts["low"][0] < counts["high"][0]


def test_to_image_round_trip(cat):
    assert pixels(to_image(to_tensor(cat))).tolist() == pixels(cat).tolist()


def test_octave_bases_resized_as_bytes_match_the_float_path():
    """A lower octave's base is resized from the uint8 image (no image-sized float copy):
    it is the float path's result to within one grey level."""
    from dream_core.engine import _base_at
    from dream_core.tensors import resize, to_float

    base = torch.randint(0, 256, (1, 3, 301, 257), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    small = _base_at(base, (150, 128))
    ref = resize(to_float(base), (150, 128))
    assert small.dtype == torch.float32 and small.shape == ref.shape
    assert (small - ref).abs().max() <= 1 / 255 + 1e-6
    assert torch.equal(_base_at(base, (301, 257)), to_float(base))  # the full size is exact


def test_novelty_terms_leave_out_the_pictures_own_direction():
    from dream_core.catalog import ResolvedTerm
    from dream_core.objective import picture_directions

    own = torch.rand(1, 8, 5, 5) + 0.5  # a picture's features
    u = picture_directions({"block13": own})["block13"]
    terms = [ResolvedTerm("block13", None, 1.0, "mixed5")]
    along = u.view(1, -1, 1, 1) * torch.rand(1, 1, 5, 5)  # more of what the picture shows
    across = torch.randn(1, 8, 5, 5)
    across = across - (across * u.view(1, -1, 1, 1)).sum(1, keepdim=True) * u.view(1, -1, 1, 1)
    plain, novel = Objective(terms), Objective(terms, novelty={"block13": u})
    assert float(plain({"block13": along})) > 0.01
    assert float(novel({"block13": along})) == pytest.approx(0.0, abs=1e-6)
    assert float(novel({"block13": across})) == pytest.approx(float(plain({"block13": across})), rel=1e-5)
    one = [ResolvedTerm("block13", 3, 1.0, "mixed5:3")]  # a filter term stays plain
    assert float(Objective(one, novelty={"block13": u})({"block13": along})) > 0


def test_default_mixed5_dream_grows_what_the_picture_does_not_show(model, cat, fast, monkeypatch):
    from dream_core.engine import base_features
    from dream_core.objective import picture_directions
    from dream_core.tensors import to_uint8_tensor

    own, novelty_layers = model.spec.canonical("mixed5"), model.spec.info.novelty_layers
    assert own in novelty_layers and model.spec.canonical("mixed4") not in novelty_layers
    u = picture_directions(base_features(model, to_uint8_tensor(cat, model.device), [own]))
    terms = resolve_targets(model.name, "mixed5")

    def novel(img: Image.Image) -> float:
        with torch.no_grad():
            return float(Objective(terms, novelty=u)(model.features(to_tensor(img), [own])))

    def novel_share(img: Image.Image) -> float:  # of the layer's whole energy
        return novel(img) / objective_value(model, img, "mixed5")

    params = fast.with_updates(layer="mixed5")
    result = dream(cat, params)
    assert novel(result.image) > 1.1 * novel(cat)
    monkeypatch.setattr("dream_core.engine.picture_directions", lambda feats: None)  # the plain ascent
    plain = dream(cat, params)
    shares = novel_share(cat), novel_share(plain.image), novel_share(result.image)
    assert shares[2] > shares[1] + 0.01, shares  # the plain ascent: shares[1], about the picture's own
