"""End-to-end: ``/atlas`` through the real discord.py client against the fake Discord, with
the real executor and store: a sheet, its pages, "Dream with filter N" → a dream with
``layer:mixed4:N``, a second request served from the render cache without a job, bad
input answered in one line."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.conftest import ATLAS_SIZE
from tests.bot.helpers import dream, dream_id_of, finished_dream, result_done

pytestmark = pytest.mark.asyncio(loop_scope="session")

MODEL = "efficientnet-lite0"


def sheet_shown(message: Any) -> bool:
    """A message holding a sheet: a picture and the "Dream with filter" menu."""
    return bool(message.attachments) and any(c.startswith("atlas:pick:") for c in message.custom_ids())


async def atlas(env: Any, *, user: Any = None, **options: Any) -> Any:
    return await env.fake.slash("atlas", options, user=user or env.world.alice)


async def test_atlas_sheet_pages_and_cache(bot_env):
    env = bot_env
    fake, w = env.fake, env.world
    service = env.bot.atlas
    submitted = service.jobs_submitted

    # A sheet nobody has seen: an executor job, with its progress and a Cancel button, then the sheet.
    h = await atlas(env, layer="mixed4")
    assert h.callback.type == 5 and not h.callback.ephemeral and h.ack_delay < 3
    msg = await h.wait_for_original(sheet_shown, timeout=120)
    assert service.jobs_submitted == submitted + 1
    seen = [v.content for v in msg.history]
    assert any("queue" in t or "Dreaming" in t for t in seen), seen
    assert any(v.components and "atlas:cancel:" in str(v.components) for v in msg.history)
    img = msg.image()
    assert min(img.size) >= 4 * ATLAS_SIZE  # 4 x 4 filters
    assert "mixed4" in msg.content and "page 1/" in msg.content and "filters 0–15" in msg.content
    ids = msg.custom_ids()
    assert f"atlas:pick:{MODEL}:mixed4:1" in ids and f"atlas:page:{MODEL}:mixed4:2:n" in ids
    values = [o["value"] for o in msg.component(f"atlas:pick:{MODEL}:mixed4:1")["options"]]
    assert values == [str(n) for n in range(16)]
    assert msg.component(f"atlas:page:{MODEL}:mixed4:1:p").get("disabled")  # no page 0
    # the worker stored the sheet where the bot looks for it: the next one is a file read
    key = service.sheet(None, "mixed4", 1).key
    assert service.sheets.cache.get_digest(service.sheets.stored_digest(key)) == msg.attachments[0].data

    # ▶: the same message shows page 2 (rendered: nobody has seen it).
    nxt = await fake.click(msg, f"atlas:page:{MODEL}:mixed4:2:n", user=w.bob)
    assert nxt.callback.type == 6  # the sheet's message is edited, no new message
    await nxt.wait_for(lambda hh: "page 2/" in msg.content and sheet_shown(msg), timeout=120)
    assert f"atlas:pick:{MODEL}:mixed4:2" in msg.custom_ids()
    assert [o["value"] for o in msg.component(f"atlas:pick:{MODEL}:mixed4:2")["options"]][0] == "16"
    assert service.jobs_submitted == submitted + 2

    # Seen once: back to page 1 and a second /atlas of it come from the render cache, at once, no job.
    done_before = env.executor.status().jobs_done
    back = await fake.click(msg, f"atlas:page:{MODEL}:mixed4:1:p", user=w.bob)
    assert back.callback.type == 7  # answered with the sheet itself
    assert "page 1/" in msg.content and sheet_shown(msg)
    again = await atlas(env, layer="mixed4", user=w.bob)
    assert again.callback.type == 4 and not again.callback.ephemeral  # the sheet itself, no "thinking…"
    cached = again.original
    assert cached is not None and sheet_shown(cached)
    assert cached.image().size == img.size
    assert service.jobs_submitted == submitted + 2 and env.executor.status().jobs_done == done_before

    # After a restart: the sheets still come at once (stored in the render cache), and the
    # buttons of the sheet posted before it still work.
    bot = await env.restart()
    assert bot.atlas is not service and bot.atlas.jobs_submitted == 0
    after = await atlas(env, layer="mixed4", page=2, user=w.alice)
    assert after.callback.type == 4 and after.original is not None and sheet_shown(after.original)
    old = await fake.click(msg, f"atlas:page:{MODEL}:mixed4:2:n", user=w.alice)
    assert old.callback.type == 7 and "page 2/" in msg.content
    assert bot.atlas.jobs_submitted == 0 and env.executor.status().jobs_done == done_before
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_dream_with_filter_uses_the_last_picture_or_noise(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    _, _, last_id = await finished_dream(env, small_png, layer="mixed3", user=w.alice)
    last = await env.store.get_dream(last_id)

    h = await atlas(env, layer="mixed4")
    sheet = await h.wait_for_original(sheet_shown, timeout=120)
    shown, components = len(sheet.history), sheet.components
    pick = await fake.click(sheet, f"atlas:pick:{MODEL}:mixed4:1", values=["5"], user=w.alice)
    assert pick.callback.type == 5 and pick.ack_delay < 3  # a new message: the dream
    result = await pick.wait_for_original(result_done, timeout=120)
    info = await env.store.get_dream(dream_id_of(result))
    assert info.params.layer == "mixed4:5" and info.user_id == w.alice.id
    assert info.source is not None and info.source.sha256 == last.source.sha256
    assert "mixed4:5" in result.text

    # the menu is reset (so the same filter can be picked again); the sheet stays as it was
    assert len(sheet.history) == shown + 1 and sheet.history[-1].components == components and sheet_shown(sheet)

    # Nobody has dreamed yet as "owner": the filter dreams from noise.
    noise = await fake.click(sheet, f"atlas:pick:{MODEL}:mixed4:1", values=["7"], user=w.owner)
    noise_result = await noise.wait_for_original(result_done, timeout=120)
    noise_info = await env.store.get_dream(dream_id_of(noise_result))
    assert noise_info.params.layer == "mixed4:7" and noise_info.source is None
    assert "noise" in noise_result.text
    assert not fake.bot_errors


async def test_atlas_bad_input_is_one_line_and_runs_nothing(bot_env):
    env = bot_env
    service = env.bot.atlas
    submitted = service.jobs_submitted
    for options, words in (
        ({"layer": "mixed4", "page": 99}, "Page 99 is past the end"),
        ({"layer": "nope"}, "Unknown layer"),
        ({"layer": "mixed4", "model": "alexnet"}, "alexnet"),
    ):
        h = await atlas(env, **options)
        await h.wait_for_final(timeout=10)
        assert h.callback.type == 4 and h.callback.ephemeral, options
        assert words in h.text and len(h.text.strip().splitlines()) == 1, h.text
        assert not h.attachments
    assert service.jobs_submitted == submitted
    assert not env.fake.bot_errors


async def test_layers_and_layer_autocomplete_point_to_the_atlas(bot_env):
    env = bot_env
    fake, w = env.fake, env.world
    layers = await fake.slash("layers", {}, user=w.alice)
    assert "/atlas layer:mixed4" in layers.text
    choices = await fake.autocomplete("dream", {"layer": "mixed4:9"}, "layer", user=w.alice)
    named = {c["value"]: c["name"] for c in choices}
    assert named["mixed4:9"] == "mixed4:9 — see /atlas layer:mixed4 page:1"
    assert named["mixed4:90"].endswith("/atlas layer:mixed4 page:6")
    layer_names = [c["value"] for c in await fake.autocomplete("atlas", {"layer": "mix"}, "layer", user=w.alice)]
    assert "mixed4" in layer_names and all(":" not in n for n in layer_names)


async def test_a_sheet_waits_behind_dreams_with_its_place_in_line_and_can_be_cancelled(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    long = await dream(env, small_png, user=w.bob, iterations=400, octaves=3)

    def running(m: Any) -> bool:
        return any(c.startswith("dream:cancel:") for c in m.custom_ids()) and "Dreaming" in m.content

    long_msg = await long.wait_for_original(running, timeout=60)
    h = await atlas(env, layer="mixed4", page=5, user=w.alice)

    def queued(m: Any) -> bool:
        return "queue" in m.content and any(c.startswith("atlas:cancel:") for c in m.custom_ids())

    msg = await h.wait_for_original(queued, timeout=30)  # the one worker dreams: the sheet waits its turn
    cancel_id = next(c for c in msg.custom_ids() if c.startswith("atlas:cancel:"))
    refused = await fake.click(msg, cancel_id, user=w.bob)  # not his sheet (mod and admin may)
    assert refused.callback.ephemeral and "Only the person who asked" in refused.text
    click = await fake.click(msg, cancel_id, user=w.alice)
    assert click.callback.type == 6
    final = await h.wait_for_original(lambda m: "cancelled" in m.content, timeout=30)
    assert not final.custom_ids() and not final.attachments
    await fake.click(long_msg, next(c for c in long_msg.custom_ids() if c.startswith("dream:cancel:")), user=w.bob)
    await long.wait_for_original(lambda m: "cancelled" in m.content, timeout=30)
    assert not fake.bot_errors
