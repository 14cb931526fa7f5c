"""Dreaming clips with the real bundled model: every frame out, durations and loop kept,
coherence better than frame-by-frame, progress per frame, cancel mid-clip, zoom refused."""

from __future__ import annotations

import pytest
from PIL import Image

from dream_core.cli import main
from dream_core.clips import decode_clip, encode_clip
from dream_core.clips.coherence import (
    coherence_error,
    moving_square_clip,
    panning_clip,
    strength,
)
from dream_core.clips.coherent import dream_clip
from dream_core.clips.service import dream_clip_bytes
from dream_core.errors import DreamCancelled, DreamParamsError
from dream_core.params import DreamParams
from tests.clips import audio_only

FAST = DreamParams(octaves=1, iterations=3, frame_iterations=2, seed=4)
FLAGS = [
    "--octaves",
    "1",
    "--iterations",
    "2",
    "--frame-iterations",
    "1",
    "--seed",
    "5",
    "-q",
]
DURATIONS = [100, 120, 140, 60, 100]


@pytest.fixture(scope="module")
def square():
    return moving_square_clip(len(DURATIONS), (64, 48))


@pytest.mark.parametrize(
    "src_fmt, out_ext",
    [("gif", "gif"), ("webp", "webp"), ("png", "png"), ("mp4", "mp4")],
)
def test_cli_dreams_every_frame_and_keeps_durations_and_loop(
    tmp_path, square, capsys, src_fmt, out_ext
):
    loop = 0 if src_fmt == "mp4" else 2
    src = tmp_path / f"clip.{src_fmt}"
    src.write_bytes(encode_clip(square.frames, DURATIONS, src_fmt, loop=loop))
    out = tmp_path / f"out.{out_ext}"
    assert main(["dream", str(src), "-o", str(out), *FLAGS]) == 0
    assert f"{len(DURATIONS)} frames" in capsys.readouterr().out
    back = decode_clip(out.read_bytes())
    assert len(back) == len(DURATIONS) and back.size == (64, 48)
    if out_ext == "mp4":
        assert sum(back.durations) == pytest.approx(sum(DURATIONS), abs=30)
    else:
        assert back.durations == DURATIONS and back.loop == loop
    # dreamed, not copied
    assert strength(back.frames, square.frames) > 0.01


def test_cli_gif_to_mp4_and_default_output_name(tmp_path, square, monkeypatch, capsys):
    src = tmp_path / "moving.gif"
    src.write_bytes(encode_clip(square.frames, DURATIONS, "gif"))
    assert main(["dream", str(src), "-o", str(tmp_path / "o.mp4"), *FLAGS]) == 0
    assert len(decode_clip((tmp_path / "o.mp4").read_bytes())) == len(DURATIONS)
    monkeypatch.chdir(tmp_path)
    assert main(["dream", str(src), *FLAGS]) == 0
    assert len(decode_clip((tmp_path / "moving-dream.gif").read_bytes())) == len(
        DURATIONS
    )


def test_cli_refuses_clip_with_zoom_and_a_still_format(tmp_path, square, capsys):
    src = tmp_path / "clip.gif"
    src.write_bytes(encode_clip(square.frames, DURATIONS, "gif"))
    assert main(["dream", str(src), "--zoom-frames", "3", *FLAGS]) == 2
    err = capsys.readouterr().err
    assert "can't be combined with --zoom-frames" in err and err.count("\n") == 1
    assert main(["dream", str(src), "-o", str(tmp_path / "x.jpg"), *FLAGS]) == 2
    assert (
        "a clip is written as .gif, .webp, .png (APNG) or .mp4"
        in capsys.readouterr().err
    )


def test_cli_audio_only_file_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "a.m4a"
    audio_only(tmp_path, path.name)
    assert main(["dream", str(path), *FLAGS]) == 2
    assert "audio-only file" in capsys.readouterr().err


def test_one_frame_animation_is_dreamed_as_a_still(tmp_path, square, capsys):
    src = tmp_path / "one.gif"
    src.write_bytes(encode_clip(square.frames[:1], [100], "gif"))
    assert main(["dream", str(src), "-o", str(tmp_path / "one.png"), *FLAGS]) == 0
    with Image.open(tmp_path / "one.png") as im:
        assert im.size == (64, 48) and not getattr(im, "is_animated", False)
    single = decode_clip(encode_clip(square.frames[:1], [100], "mp4"))
    result = dream_clip(single, FAST, device="cpu")
    assert len(result.frames) == 1 and any(
        "dreamed as a still" in n for n in result.notes
    )


def test_zoom_with_a_clip_is_refused_in_the_library(square):
    with pytest.raises(DreamParamsError, match="zoom"):
        dream_clip(square, FAST.with_updates(zoom_frames=2), device="cpu")


def test_progress_counts_frames_keeps_previews_and_cancel_stops_mid_clip(square):
    seen = []
    dream_clip(square, FAST, progress=seen.append, device="cpu")
    frames = [p.frame for p in seen]
    assert (
        frames == sorted(frames)
        and set(frames) == set(range(1, 6))
        and {p.frames for p in seen} == {5}
    )
    assert all(
        any(p.preview is not None for p in seen if p.frame == f) for f in range(1, 6)
    )
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)

    steps = []

    def cancel() -> bool:
        return any(p.frame >= 3 for p in steps)

    with pytest.raises(DreamCancelled):
        dream_clip(square, FAST, progress=steps.append, cancel=cancel, device="cpu")
    assert max(p.frame for p in steps) == 3  # stopped in frame 3, not after the clip


def test_service_returns_bytes_media_type_and_notes_and_fits_a_byte_limit(square):
    gif = encode_clip(square.frames, DURATIONS, "gif")
    out = dream_clip_bytes(gif, FAST, device="cpu")
    assert out.media_type == "image/gif" and len(decode_clip(out.data)) == len(
        DURATIONS
    )
    small = dream_clip_bytes(
        gif, FAST, fmt="png", max_bytes=len(out.data) // 2, device="cpu"
    )
    assert len(small.data) <= len(out.data) // 2 and small.encoded.format == "mp4"
    assert any("upload limit" in n for n in small.notes)


@pytest.mark.slow  # two clip dreams
def test_coherent_dream_sticks_to_a_panning_scene_better_than_frame_by_frame(
    sample_image,
):
    """Property, not timing: E(whole) well below E(frame by frame), at a still's strength."""
    img = sample_image.copy()
    img.thumbnail((160, 160))
    clip = panning_clip(img, 6, (80, 60), step=(3, 0))
    params = DreamParams(octaves=2, iterations=6, frame_iterations=3, seed=11)
    alone = dream_clip(clip, params, device="cpu", coherent=False)
    whole = dream_clip(clip, params, device="cpu")
    e_alone = coherence_error(alone.frames, clip.frames, (-3, 0))
    e_whole = coherence_error(whole.frames, clip.frames, (-3, 0))
    assert e_whole < 0.75 * e_alone, (e_whole, e_alone)
    assert strength(whole.frames, clip.frames) > 0.6 * strength(
        alone.frames, clip.frames
    )
    assert (
        min(whole.reliable_share) > 0.8
    )  # a pan: the flow is trusted almost everywhere


def test_scene_cut_is_dreamed_afresh(square, sample_image):
    other = sample_image.copy().resize((64, 48))
    cut = decode_clip(
        encode_clip([*square.frames[:2], other, other], [100] * 4, "webp")
    )
    result = dream_clip(cut, FAST, device="cpu")
    assert result.reliable_share[1] == 0.0 and any(
        "scene cut" in n for n in result.notes
    )


def test_coherence_error_is_zero_for_a_residual_moving_with_the_content(sample_image):
    img = sample_image.copy()
    img.thumbnail((128, 128))
    src = panning_clip(img, 4, (64, 48), step=(2, 0))
    from PIL import ImageChops

    pattern = panning_clip(
        Image.effect_noise((200, 60), 60).convert("RGB"), 4, (64, 48), step=(2, 0)
    )
    dreams = [
        ImageChops.add(s, p, scale=4.0)
        for s, p in zip(src.frames, pattern.frames, strict=True)
    ]
    assert coherence_error(dreams, src.frames, (-2, 0)) < 0.2 * coherence_error(
        dreams, src.frames, (0, 0)
    )


def test_max_size_downscales_every_frame_alike(square):
    result = dream_clip(square, FAST.with_updates(max_size=32), device="cpu")
    assert {f.size for f in result.frames} == {(32, 24)}
    assert any("downscaled from 64x48 to 32x24" in n for n in result.notes)
