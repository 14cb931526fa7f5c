"""Users: first/last seen, and deleting one user's data without touching others'."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from bot.store import NotFound

ALICE, BOB, MOD = 1, 2, 3
G1 = 100


async def test_touch_user(store):
    with pytest.raises(NotFound):
        await store.get_user(ALICE)
    u = await store.touch_user(ALICE, "alice")
    assert u.display_name == "alice" and u.first_seen <= u.last_seen and not u.gallery_opt_out
    await asyncio.sleep(0.01)
    u2 = await store.touch_user(ALICE, "Alice ✨")
    assert u2.display_name == "Alice ✨" and u2.first_seen == u.first_seen and u2.last_seen > u.last_seen
    u3 = await store.touch_user(ALICE)
    assert u3.display_name == "Alice ✨"
    assert (await store.touch_user(BOB, "b" * 500)).display_name.startswith("b" * 90)
    big = 2**63 - 1  # Discord snowflakes use the full 64 bits
    assert (await store.touch_user(big, "big")).id == big


async def test_delete_user_data(store, finished_dream, sample_png, sample_image):
    import io

    buf = io.BytesIO()
    sample_image.rotate(180).save(buf, format="PNG")
    # Alice: presets, dreams (one published, one input shared with Bob), votes
    await store.create_preset(ALICE, "mine", {}, shared=True)
    await store.set_default_preset(BOB, "mine")  # Bob uses Alice's shared preset
    a1 = await finished_dream(ALICE, G1, name="alice", data=buf.getvalue())
    a2 = await finished_dream(ALICE, G1, data=sample_png)  # same input bytes as Bob's dream
    b1 = await finished_dream(BOB, G1, name="bob", data=sample_png)
    a_entry = await store.publish(a1.id, G1, by_user_id=ALICE)
    b_entry = await store.publish(b1.id, G1, by_user_id=BOB)
    m_entry_dream = await finished_dream(BOB, G1)
    m_entry = await store.publish(m_entry_dream.id, G1, by_user_id=MOD, moderator=True)
    await store.vote(a_entry.id, BOB)
    await store.vote(b_entry.id, ALICE)
    await store.vote(b_entry.id, MOD)
    thumb = store.files.thumbnail(a1.result.sha256, 32)
    await store.create_preset(BOB, "bobs", {})

    # the moderator deletes their data: Bob's entry they published stays, without a publisher
    rep_mod = await store.delete_user_data(MOD)
    assert rep_mod.votes == 1 and rep_mod.dreams == 0
    assert (await store.get_entry(m_entry.id)).published_by is None

    rep = await store.delete_user_data(ALICE)
    assert (rep.dreams, rep.presets, rep.gallery_entries) == (2, 1, 1)
    assert rep.votes == 2  # Bob's vote on her entry + her vote on Bob's
    with pytest.raises(NotFound):
        await store.get_user(ALICE)
    for d in (a1, a2):
        with pytest.raises(NotFound):
            await store.get_dream(d.id)
    with pytest.raises(NotFound):
        await store.get_entry(a_entry.id, include_hidden=True)
    assert (await store.list_history(ALICE)).total == 0
    assert await store.list_presets(BOB, "mine") == []
    assert (await store.get_user(BOB)).default_preset_id is None

    # her own files are gone (with thumbnails); the input Bob also used is kept
    assert not store.files.exists(a1.source.sha256)
    assert not store.files.exists(a1.result.sha256)
    assert not store.files.exists(thumb)
    assert not store.files.exists(a2.result.sha256)
    assert store.files.exists(a2.source.sha256) and a2.source.sha256 == b1.source.sha256
    assert rep.files == 3  # a1 source + result (its thumbnail goes along), a2 result

    # Bob is untouched
    assert (await store.get_dream(b1.id)).status.value == "done"
    assert store.files.read(b1.result.sha256)
    b = await store.get_entry(b_entry.id)
    assert b.votes == 0 and b.author_name == "bob"
    assert (await store.get_preset(BOB, "bobs")).owner_id == BOB
    assert (await store.list_gallery(G1)).total == 2

    # deleting an unknown user is harmless
    assert (await store.delete_user_data(4242)).dreams == 0
    async with store.db.read() as s:
        for table, column in (("votes", "user_id"), ("presets", "owner_id"), ("dreams", "user_id")):
            n = await s.scalar(text(f"SELECT count(*) FROM {table} WHERE {column} = :u"), {"u": ALICE})
            assert n == 0, table
        if store.db.is_sqlite:
            assert (await s.execute(text("PRAGMA foreign_key_check"))).all() == []


async def test_collect_garbage(store, finished_dream, sample_image):
    import io
    import os
    import time

    d = await finished_dream(ALICE, G1)
    thumb = store.files.thumbnail(d.result.sha256, 32)
    buf = io.BytesIO()
    sample_image.rotate(90).save(buf, format="PNG")
    orphan = store.files.put(buf.getvalue())  # stored, but the dream was never recorded
    orphan_thumb = store.files.thumbnail(orphan.sha256, 32)
    fresh = store.files.put(b"just stored, dream being recorded")
    old = time.time() - 7200
    for sha, path in store.files.stored():
        if sha != fresh.sha256:
            os.utime(path, (old, old))

    assert await store.collect_garbage(min_age_s=3600) == 1  # the orphan (its thumbnail goes along)
    assert not store.files.exists(orphan.sha256) and not store.files.exists(orphan_thumb)
    for kept in (d.source.sha256, d.result.sha256, thumb, fresh.sha256):
        assert store.files.exists(kept)
    assert await store.collect_garbage(min_age_s=3600) == 0
    # storing existing bytes again makes them young: safe while their dream is being recorded
    stale = store.files.put(b"stale bytes")
    os.utime(store.files.path_for(stale.sha256), (old, old))
    store.files.put(b"stale bytes")
    assert await store.collect_garbage(min_age_s=3600) == 0
    assert await store.collect_garbage(min_age_s=0) == 2  # fresh + stale: no dream refers to them
    assert store.files.exists(d.result.sha256) and store.files.exists(thumb)
