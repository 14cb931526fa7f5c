"""Animated input: decoding every container, keeping durations and loop, and each limit's refusal.

Torch-free code (decode, limits, encode) on real files made here with Pillow and ffmpeg.
"""

from __future__ import annotations

import io
import subprocess
import sys
import wave

import pytest

from dream_core.clips import ClipLimits, decode_clip, encode_clip, is_clip, probe_clip
from dream_core.clips.coherence import moving_square_clip
from dream_core.clips.limits import ClipHeader, clip_cost, plan_clip
from dream_core.errors import DreamInputError
from dream_core.params import DreamParams
from tests.clips import audio_only, huge_screen_gif, pattern_video, pillow_clip, tiny_frames_gif

DURATIONS = [100, 120, 140, 60, 100, 80]


@pytest.fixture(scope="module")
def square():
    return moving_square_clip(len(DURATIONS), (64, 48))


@pytest.mark.parametrize("fmt, loop", [("GIF", 3), ("WEBP", 2), ("PNG", 0)])
def test_pillow_animations_keep_every_frame_duration_and_loop(square, fmt, loop):
    data = pillow_clip(fmt, square.frames, DURATIONS, loop=loop)
    assert is_clip(data)
    clip = decode_clip(data)
    assert clip.format == fmt and len(clip) == len(DURATIONS) and clip.size == (64, 48)
    assert clip.durations == DURATIONS and clip.loop == loop
    # the square moves: the frames are the source's, in order
    xs = [
        min(x for x in range(64) if f.getpixel((x, 24))[0] > 180) for f in clip.frames
    ]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_mp4_and_webm_decode_with_frame_rate_durations_and_a_sound_note(tmp_path):
    mp4 = pattern_video(
        tmp_path, "a.mp4", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "1", "-pix_fmt", "yuv420p"
    )
    clip = decode_clip(mp4)
    assert (
        clip.format == "MP4"
        and len(clip) == 10
        and clip.durations == [100] * 10
        and clip.loop == 0
    )
    assert any("no sound" in n for n in clip.notes)
    webm = pattern_video(tmp_path, "a.webm", "-t", "1", "-c:v", "libvpx-vp9", rate=8)
    clip = decode_clip(webm)
    assert clip.format == "WEBM" and len(clip) == 8 and clip.durations == [125] * 8
    assert not any("sound" in n for n in clip.notes)


def test_encoded_clip_round_trips_in_every_format(square):
    for fmt in ("gif", "webp", "png", "mp4"):
        data = encode_clip(square.frames, DURATIONS, fmt, loop=2 if fmt != "mp4" else 0)
        back = decode_clip(data)
        assert len(back) == len(DURATIONS), fmt
        if fmt == "mp4":
            assert sum(back.durations) == pytest.approx(sum(DURATIONS), abs=30)
        else:
            assert back.durations == DURATIONS and back.loop == 2, fmt


def test_long_clip_is_sampled_down_in_frame_rate_with_a_note(square):
    frames = square.frames * 5  # 30 frames
    data = pillow_clip("GIF", frames, [50] * 30, loop=0)
    clip = decode_clip(data, ClipLimits(max_frames=10))
    assert len(clip) == 10 and clip.source_frames == 30
    assert clip.durations == [150] * 10  # same play time
    assert any("every 3rd frame" in n for n in clip.notes)


def test_large_frames_are_downscaled_with_a_note(square):
    big = [f.resize((640, 480)) for f in square.frames[:3]]
    clip = decode_clip(pillow_clip("GIF", big, [100] * 3), ClipLimits(max_side=128))
    assert clip.size == (128, 96) and any(
        "downscaled from 640x480 to 128x96" in n for n in clip.notes
    )


def _bad(tmp_path, square, case: str) -> tuple[bytes, ClipLimits]:
    limits = ClipLimits()
    if case == "10,000 tiny frames":
        return tiny_frames_gif(10_000), limits
    if case == "huge frame size":
        return huge_screen_gif(pillow_clip("GIF", square.frames[:2], [100, 100])), limits
    if case == "too long":
        return pillow_clip("GIF", square.frames[:3], [30_000] * 3), limits
    if case == "pixels x frames":
        return pillow_clip("GIF", square.frames, [100] * 6), ClipLimits(
            max_source_pixels=5 * 64 * 48
        )
    if case == "audio-only m4a":
        return audio_only(tmp_path, "a.m4a"), limits
    if case == "audio-only wav":
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * 800)
        return buf.getvalue(), limits
    if case == "zero frames (video)":
        return pattern_video(tmp_path, "z.mp4", "-frames:v", "0", "-pix_fmt", "yuv420p"), limits
    if case == "zero frames (gif)":
        return b"GIF89a" + bytes([1, 0, 1, 0, 0, 0, 0]) + b";", limits
    if case == "corrupt mp4":
        mp4 = pattern_video(tmp_path, "t.mp4", "-t", "1", "-pix_fmt", "yuv420p")
        return mp4[:1500], limits
    if case == "corrupt gif":
        data = pillow_clip("GIF", square.frames, [100] * 6)
        return data[: len(data) // 2], limits
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case, message",
    [
        pytest.param("10,000 tiny frames", "too many frames (10000; the limit is 1500)",
                     marks=pytest.mark.slow),  # builds a 10,000-frame GIF
        ("huge frame size", "frames are too large (5000x5000"),
        ("too long", "too long (90.0 s; the limit is 60 s)"),
        ("pixels x frames", "the clip is too large (6 frames x 64x48"),
        ("audio-only m4a", "audio-only file"),
        ("audio-only wav", "audio-only file"),
        ("zero frames (video)", "no frames"),
        ("zero frames (gif)", "no frames"),
        ("corrupt mp4", "corrupt"),
        ("corrupt gif", "corrupt or truncated"),
    ],
)
def test_each_bad_clip_is_refused_with_one_clear_line(tmp_path, square, case, message):
    data, limits = _bad(tmp_path, square, case)
    with pytest.raises(DreamInputError) as err:
        decode_clip(data, limits)
    text = str(err.value)
    assert message in text and "\n" not in text and len(text) < 200
    with pytest.raises(DreamInputError):
        probe_clip(data, limits) if case not in ("corrupt gif",) else decode_clip(
            data, limits
        )


def test_one_frame_animation_is_a_still(square):
    one = pillow_clip("GIF", square.frames[:1], [100])
    assert not is_clip(one)
    assert not is_clip(b"not a picture at all")


def test_zero_frames_in_a_header_is_refused():
    with pytest.raises(DreamInputError, match="no frames"):
        plan_clip(ClipHeader("GIF", (10, 10), 0, None), ClipLimits())


def test_limits_from_environment_and_work_estimate():
    lim = ClipLimits.from_env(
        {"DREAMBOT_MAX_INPUT_FRAMES": "12", "DREAMBOT_MAX_CLIP_SIDE": "256"}
    )
    assert (
        lim.max_frames == 12
        and lim.max_side == 256
        and lim.max_dream_pixels == 12 * 256 * 192
    )
    p = DreamParams(octaves=3, iterations=10)  # still: 30 steps; each next frame: 5 + 1
    assert clip_cost(1, p) == 1.0 and clip_cost(11, p) == pytest.approx(1 + 10 * 6 / 30)


def test_validating_an_upload_never_imports_torch(square):
    code = (
        "import sys, io\n"
        "from dream_core.clips import probe_clip, decode_clip, encode_clip\n"
        "from dream_core.clips.limits import clip_cost\n"
        "import dream_core.clips.flow, dream_core.clips.coherence, dream_core.clips.video\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
