"""End-to-end clips (issue 12): a GIF dreamed through the fake Discord with the real
discord.py client, the real executor process and the real store; Dream again and Deeper on
it; bad clips refused with one clear line; a 1-frame "animation" dreamed as a still."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageSequence

from dream_core.clips import encode_clip
from dream_core.clips.coherence import moving_square_clip
from dream_core.executor import JobProgress
from tests.bot.helpers import dream_id_of, result_done
from tests.clips import audio_only, huge_screen_gif, pattern_video, tiny_frames_gif

pytestmark = pytest.mark.asyncio(loop_scope="session")

DURATIONS = [100, 160, 60, 120]


def square_gif(durations: list[int] = DURATIONS, size: tuple[int, int] = (48, 36)) -> bytes:
    clip = moving_square_clip(len(durations), size, side=12, step=4)
    return encode_clip(clip.frames, durations, "gif")


def frames_of(data: bytes) -> tuple[int, list[int]]:
    with Image.open(io.BytesIO(data)) as im:
        return im.n_frames, [int(f.info.get("duration", 0)) for f in ImageSequence.Iterator(im)]


async def test_a_gif_is_dreamed_frame_by_frame_and_dreamed_again(bot_env, monkeypatch):
    env = bot_env
    fake, w = env.fake, env.world
    gif = square_gif()
    jobs: list = []
    executor = env.bot.executor
    real_submit = executor.submit

    async def recording_submit(image_bytes, params, **kwargs):  # a pass-through spy, not a mock
        job = await real_submit(image_bytes, params, **kwargs)
        jobs.append(job)
        return job

    monkeypatch.setattr(executor, "submit", recording_submit)
    h = await fake.slash("dream", {"seed": 11}, user=w.alice, attachments={"image": (gif, "square.gif", "image/gif")})
    assert h.callback.type == 5 and not h.callback.ephemeral
    msg = await h.wait_for_original(result_done, timeout=120)

    # the result is an animated GIF with every frame and its duration, shown in the embed
    result = msg.attachments[0]
    assert result.filename.endswith(".gif") and msg.embed_image() is result
    assert frames_of(result.data) == (len(DURATIONS), DURATIONS)
    assert result.image().size == (48, 36)
    assert f"{len(DURATIONS)} frames" in msg.text
    # the job was a clip job whose progress counted every frame (the message shows "frame i/N":
    # tests/bot/test_parts.py; a dream this small may end before the first edit)
    assert jobs[0].clip is not None and jobs[0].clip.frames == len(DURATIONS)
    progress = [e for e in jobs[0].history if isinstance(e, JobProgress)]
    assert {e.frame for e in progress} == set(range(1, len(DURATIONS) + 1))
    assert {e.frames for e in progress} == {len(DURATIONS)}

    first = await env.store.get_dream(dream_id_of(msg))
    assert first.status.value == "done" and first.is_animation and first.result.ext == "gif"
    assert first.source is not None and env.store.files.read(first.source.sha256) == gif  # the clip is kept

    # Dream again: the same clip, a new seed, every frame again
    again = await fake.click(msg, f"dream:again:{first.id}", user=w.bob)
    again_msg = await again.wait_for_original(result_done, timeout=120)
    assert frames_of(again_msg.attachments[0].data) == (len(DURATIONS), DURATIONS)
    again_info = await env.store.get_dream(dream_id_of(again_msg))
    assert again_info.source == first.source and again_info.seed != first.seed and again_info.is_animation

    # Deeper: dreams the dreamed clip
    deeper = await fake.click(msg, f"dream:deeper:{first.id}", user=w.alice)
    deeper_msg = await deeper.wait_for_original(result_done, timeout=120)
    assert frames_of(deeper_msg.attachments[0].data)[0] == len(DURATIONS)
    deeper_info = await env.store.get_dream(dream_id_of(deeper_msg))
    assert deeper_info.source.sha256 == first.result.sha256
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_an_mp4_is_dreamed_into_an_mp4_that_plays_above_the_embed(bot_env, tmp_path):
    env = bot_env
    fake, w = env.fake, env.world
    mp4 = pattern_video(tmp_path, "clip.mp4", "-t", "0.8", "-pix_fmt", "yuv420p", rate=5)
    h = await fake.slash("dream", {}, user=w.alice, attachments={"image": (mp4, "clip.mp4", "video/mp4")})
    msg = await h.wait_for_original(result_done, timeout=120)
    assert msg.attachments[0].filename.endswith(".mp4") and msg.attachments[0].data[4:8] == b"ftyp"
    assert msg.embed_image() is None  # a video is not an embed image: Discord plays the attachment
    info = await env.store.get_dream(dream_id_of(msg))
    assert info.is_animation and info.result.content_type == "video/mp4"
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_progress_counts_frames_and_cancel_stops_mid_clip(bot_env):
    env = bot_env
    fake, w = env.fake, env.world
    gif = square_gif()
    h = await fake.slash("dream", {"iterations": 400}, user=w.alice,
                         attachments={"image": (gif, "square.gif", "image/gif")})

    def second_frame(m) -> bool:  # the progress message counts frames; the first is done
        return f"frame 2/{len(DURATIONS)}" in m.content and any(c.startswith("dream:cancel:") for c in m.custom_ids())

    msg = await h.wait_for_original(second_frame, timeout=120)
    assert "octave 1/1" in msg.content and f"clip of {len(DURATIONS)} frames" in msg.content
    cancel_id = next(c for c in msg.custom_ids() if c.startswith("dream:cancel:"))
    click = await fake.click(msg, cancel_id, user=w.alice)
    assert click.callback.type == 6
    final = await h.wait_for_original(lambda m: "cancelled" in m.content, timeout=60)
    assert not final.attachments and not final.custom_ids()
    info = await env.store.get_dream(int(cancel_id.rsplit(":", 1)[1]))
    assert info.status.value == "cancelled" and info.result is None
    assert not fake.bot_errors and not fake.unhandled_routes


def _bad_clip(case: str, tmp_path) -> tuple[bytes, str, str]:
    if case == "too long":
        return square_gif([30_000] * 3), "long.gif", "image/gif"
    if case == "10,000 tiny frames":
        return tiny_frames_gif(10_000), "tiny.gif", "image/gif"
    if case == "huge frames":
        return huge_screen_gif(square_gif(DURATIONS[:2])), "huge.gif", "image/gif"
    if case == "audio only":  # a phone's voice memo, labelled as a video
        return audio_only(tmp_path, "a.m4a"), "memo.mp4", "video/mp4"
    if case == "zero frames":
        return pattern_video(tmp_path, "z.mp4", "-frames:v", "0", "-pix_fmt", "yuv420p"), "empty.mp4", "video/mp4"
    if case == "corrupt video":
        mp4 = pattern_video(tmp_path, "t.mp4", "-t", "1", "-pix_fmt", "yuv420p")
        return mp4[:1500], "broken.mp4", "video/mp4"
    if case == "zoom with a clip":
        return square_gif(), "square.gif", "image/gif"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case, expect",
    [
        ("too long", "too long (90.0 s; the limit is 60 s)"),
        ("10,000 tiny frames", "too many frames (10000; the limit is 1500)"),
        ("huge frames", "frames are too large (5000x5000"),
        ("audio only", "audio-only"),
        ("zero frames", "no frames"),
        ("corrupt video", "corrupt"),
        ("zoom with a clip", "can't be combined with `zoom_frames`"),
    ],
)
async def test_bad_clips_are_refused_with_one_clear_line(bot_env, tmp_path, case, expect):
    fake, w = bot_env.fake, bot_env.world
    data, filename, ctype = _bad_clip(case, tmp_path)
    options = {"zoom_frames": 3} if case == "zoom with a clip" else {}
    before = await bot_env.store.list_history(w.bob.id, page_size=100)
    h = await fake.slash("dream", options, user=w.bob, attachments={"image": (data, filename, ctype)})
    await h.wait_for(lambda h: any(m.ephemeral for m in h.messages), timeout=30)
    line = [m for m in h.messages if m.ephemeral][-1].text
    assert expect in line and "\n" not in line, line
    if case != "zoom with a clip":
        assert f"`{filename}`" in line
    assert h.original is None or h.original.ephemeral or h.original.deleted
    after = await bot_env.store.list_history(w.bob.id, page_size=100)
    assert after.total == before.total  # nothing recorded, nothing submitted
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_a_truncated_gif_fails_in_the_worker_with_one_line(bot_env):
    """Its header reads fine (the bot's cheap check passes); the worker finds the frames
    cut off and the user gets one line."""
    fake, w = bot_env.fake, bot_env.world
    gif = square_gif([100] * 6)
    h = await fake.slash("dream", {}, user=w.bob, attachments={"image": (gif[: len(gif) // 2], "cut.gif", "image/gif")})
    await h.wait_for(lambda h: any(m.ephemeral for m in h.messages), timeout=90)
    line = [m for m in h.messages if m.ephemeral][-1].text
    assert "corrupt or truncated" in line and "\n" not in line, line
    assert "..." not in line and ". ." not in line and "  " not in line
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_a_one_frame_animation_is_dreamed_as_a_still(bot_env):
    fake, w = bot_env.fake, bot_env.world
    one = square_gif([100])
    h = await fake.slash("dream", {}, user=w.alice, attachments={"image": (one, "one.gif", "image/gif")})
    msg = await h.wait_for_original(result_done, timeout=90)
    assert msg.attachments[0].filename.endswith(".png")
    info = await bot_env.store.get_dream(dream_id_of(msg))
    assert not info.is_animation
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_dream_this_image_on_a_posted_webm(bot_env, tmp_path):
    """The message menu finds a clip attachment; the WebM source is kept as WebM."""
    env = bot_env
    fake, w = env.fake, env.world
    webm = pattern_video(tmp_path, "clip.webm", "-t", "0.6", "-c:v", "libvpx-vp9", rate=5)
    posted = await fake.post_message(w.general, "", user=w.alice, attachments=[(webm, "party.webm", "video/webm")])
    h = await fake.message_command("Dream this image", posted, user=w.bob)
    assert h.callback.type == 5
    msg = await h.wait_for_original(result_done, timeout=120)
    assert msg.attachments[0].filename.endswith(".mp4")
    info = await env.store.get_dream(dream_id_of(msg))
    assert info.is_animation and info.source.ext == "webm" and info.source.content_type == "video/webm"
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_deeper_on_a_zoom_animation_zooms_again_from_its_first_frame(bot_env, small_png):
    """A zoom animation's result is animated, but it is no clip: Deeper zooms again as before."""
    env = bot_env
    fake, w = env.fake, env.world
    h = await fake.slash("dream", {"zoom_frames": 3}, user=w.alice,
                         attachments={"image": (small_png, "cat.png", "image/png")})
    msg = await h.wait_for_original(result_done, timeout=120)
    first = await env.store.get_dream(dream_id_of(msg))
    deeper = await fake.click(msg, f"dream:deeper:{first.id}", user=w.alice)
    deeper_msg = await deeper.wait_for_original(result_done, timeout=120)
    info = await env.store.get_dream(dream_id_of(deeper_msg))
    assert info.params.zoom_frames == 3 and info.is_animation and info.source.sha256 == first.result.sha256
    assert getattr(deeper_msg.image(), "n_frames", 1) >= 3
    assert not fake.bot_errors and not fake.unhandled_routes
