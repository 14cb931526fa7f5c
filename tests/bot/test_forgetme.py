"""End-to-end: ``/forgetme`` deletes one member's data after Confirm; Cancel and the timeout delete nothing."""

from __future__ import annotations

import pytest

from tests.bot.helpers import dream, dream_id_of, result_done

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _finished(env, png, user, seed: int) -> int:
    h = await dream(env, png, user=user, seed=seed)
    return dream_id_of(await h.wait_for_original(result_done, timeout=90))


async def test_forgetme_confirm_cancel_and_timeout(bot_env, small_png, monkeypatch):
    from bot.cogs import mydata
    from bot.store import NotFound

    env = bot_env
    fake, w, store = env.fake, env.world, env.store
    carol = fake.add_user("carol")
    fake.add_member(w.guild, carol)

    # carol and bob each dream the same picture, publish it and keep a preset; each votes for the other
    carol_dream = await _finished(env, small_png, carol, seed=1)
    bob_dream = await _finished(env, small_png, w.bob, seed=2)
    for user, dream_id in ((carol, carol_dream), (w.bob, bob_dream)):
        assert "Published" in (await fake.slash("gallery publish", {"dream": dream_id}, user=user)).text
        saved = await fake.slash("preset save", {"name": f"{user.name}-fav", "layer": "mixed3"}, user=user)
        assert "Saved" in saved.text
    carol_entry = await store.find_entry(w.guild.id, carol_dream)
    bob_entry = await store.find_entry(w.guild.id, bob_dream)
    await store.vote(bob_entry.id, carol.id)
    await store.vote(carol_entry.id, w.bob.id)
    bob_votes = await store.vote_count(bob_entry.id)
    bob_history = (await store.list_history(w.bob.id, page_size=100)).total
    bob_presets = [p.name for p in await store.list_presets(w.bob.id, include_shared=False)]
    assert "bob-fav" in bob_presets
    bob_info = await store.get_dream(bob_dream)
    carol_info = await store.get_dream(carol_dream)
    assert carol_info.source.sha256 == bob_info.source.sha256  # one stored file for both

    # Cancel: nothing deleted
    asked = await fake.slash("forgetme", user=carol)
    assert asked.callback.ephemeral and "Delete everything" in asked.text
    yes, no = f"forgetme:yes:{carol.id}", f"forgetme:no:{carol.id}"
    assert {yes, no} <= set(asked.original.custom_ids())
    meddling = await fake.click(asked.original, yes, user=w.bob)  # only carol answers her question
    assert meddling.callback.ephemeral and "isn't yours" in meddling.text
    assert (await store.list_history(carol.id)).total == 1
    cancelled = await fake.click(asked.original, no, user=carol)
    assert cancelled.callback.type == 7 and "nothing was deleted" in asked.original.text
    assert (await store.list_history(carol.id)).total == 1

    # no answer in time: nothing deleted, the buttons go away
    monkeypatch.setattr(mydata, "CONFIRM_TIMEOUT_S", 0.5)
    late = await fake.slash("forgetme", user=carol)
    await fake.wait_for(lambda: "No answer in time" in late.original.text, timeout=10)
    assert not late.original.custom_ids()
    assert (await store.list_history(carol.id)).total == 1
    monkeypatch.setattr(mydata, "CONFIRM_TIMEOUT_S", 60.0)

    # Confirm: carol's rows and files go, the counts are told; bob's data stays
    asked = await fake.slash("forgetme", user=carol)
    done = await fake.click(asked.original, yes, user=carol)
    assert done.acked
    await fake.wait_for(lambda: "Done" in asked.original.text, timeout=20)
    text = asked.original.text
    # her vote for bob, and bob's vote for her entry (gone with the entry)
    assert "1 dream, 1 preset, 1 gallery entry, 2 votes" in text, text
    assert not asked.original.custom_ids()
    assert (await store.list_history(carol.id, page_size=100)).total == 0
    assert await store.list_presets(carol.id, include_shared=False) == []
    assert await store.find_entry(w.guild.id, carol_dream) is None
    with pytest.raises(NotFound):
        await store.get_dream(carol_dream)
    choices = await fake.autocomplete("gallery unpublish", {"entry": ""}, "entry", user=w.mod)
    assert carol_entry.id not in [c["value"] for c in choices]

    assert (await store.list_history(w.bob.id, page_size=100)).total == bob_history
    assert [p.name for p in await store.list_presets(w.bob.id, include_shared=False)] == bob_presets
    assert await store.find_entry(w.guild.id, bob_dream) is not None
    assert await store.vote_count(bob_entry.id) == bob_votes - 1
    assert store.files.exists(bob_info.source.sha256) and store.files.exists(bob_info.result.sha256)
    assert carol_info.result.sha256 != bob_info.result.sha256  # different seeds: different pictures
    assert not store.files.exists(carol_info.result.sha256)

    # while one of her dreams is in progress, nothing is deleted (the dream would lose its row)
    slow = await fake.slash("dream", {"iterations": 400, "octaves": 3}, user=carol,
                            attachments={"image": (small_png, "a.png", "image/png")})
    await slow.wait_for_original(lambda m: "dream:cancel" in " ".join(m.custom_ids()), timeout=30)
    busy = await fake.slash("forgetme", user=carol)
    assert busy.callback.ephemeral and "in progress" in busy.text and not busy.original.custom_ids()
    await fake.slash("dreamadmin cancel", {"member": carol}, user=w.admin)
    await slow.wait_for_original(lambda m: "cancelled" in m.content, timeout=30)
    assert (await store.list_history(carol.id)).total == 1
    assert not fake.bot_errors and not fake.unhandled_routes
