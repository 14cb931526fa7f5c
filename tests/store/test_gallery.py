"""Guild galleries: publishing rules, moderation, votes, listings, visibility."""

from __future__ import annotations

import pytest

from bot.store import (
    AlreadyPublished,
    GalleryVisibility,
    NotAllowed,
    NotFinished,
    NotFound,
    StoreError,
)

ALICE, BOB, MOD, CAROL = 1, 2, 3, 4
G1, G2 = 100, 200


async def test_publish_rules(store, finished_dream):
    d = await finished_dream(ALICE, G1, name="alice")
    item = await store.publish(d.id, G1, by_user_id=ALICE, title="  My dog  ")
    assert (item.guild_id, item.dream.id, item.author_id, item.author_name) == (G1, d.id, ALICE, "alice")
    assert item.title == "My dog" and item.votes == 0 and not item.hidden and item.published_by == ALICE
    with pytest.raises(AlreadyPublished, match="already in this server's gallery"):
        await store.publish(d.id, G1, by_user_id=ALICE)
    other = await store.publish(d.id, G2, by_user_id=ALICE)  # once *per guild*
    assert other.id != item.id
    assert (await store.find_entry(G1, d.id)).id == item.id
    assert await store.find_entry(G1, 999) is None

    with pytest.raises(NotAllowed, match="Only the dream's author"):
        await store.publish(d.id, 300, by_user_id=BOB)
    # a moderator may publish someone's dream made in their own guild only
    d2 = await finished_dream(ALICE, G1)
    with pytest.raises(NotAllowed):
        await store.publish(d2.id, G2, by_user_id=MOD, moderator=True)
    modpub = await store.publish(d2.id, G1, by_user_id=MOD, moderator=True)
    assert modpub.published_by == MOD and modpub.author_id == ALICE

    unfinished = await store.create_dream(ALICE, {}, guild_id=G1)
    with pytest.raises(NotFinished, match="Only finished dreams"):
        await store.publish(unfinished.id, G1, by_user_id=ALICE)
    await store.mark_failed(unfinished.id, "boom")
    with pytest.raises(NotFinished):
        await store.publish(unfinished.id, G1, by_user_id=ALICE)
    with pytest.raises(NotFound):
        await store.publish(424242, G1, by_user_id=ALICE)


async def test_unpublish_rules(store, finished_dream):
    d = await finished_dream(ALICE, G1)
    e = await store.publish(d.id, G1, by_user_id=ALICE)
    await store.vote(e.id, BOB)
    with pytest.raises(NotAllowed, match="author or a moderator"):
        await store.unpublish(e.id, by_user_id=BOB)
    await store.unpublish(e.id, by_user_id=ALICE)
    with pytest.raises(NotFound):
        await store.get_entry(e.id, include_hidden=True)
    with pytest.raises(NotFound):
        await store.unpublish(e.id, by_user_id=ALICE)
    e2 = await store.publish(d.id, G1, by_user_id=ALICE)  # may publish again after unpublishing
    assert e2.votes == 0
    await store.unpublish(e2.id, by_user_id=MOD, moderator=True)
    assert (await store.list_gallery(G1)).total == 0


async def test_hide_unhide_is_for_moderators(store, finished_dream):
    d = await finished_dream(ALICE, G1)
    e = await store.publish(d.id, G1, by_user_id=ALICE)
    with pytest.raises(NotAllowed, match="Only moderators"):
        await store.hide_entry(e.id, moderator=False)
    hidden = await store.hide_entry(e.id, moderator=True)
    assert hidden.hidden
    assert (await store.list_gallery(G1)).items == []
    assert [i.id for i in (await store.list_gallery(G1, include_hidden=True)).items] == [e.id]
    with pytest.raises(NotFound):
        await store.get_entry(e.id)
    with pytest.raises(NotFound):
        await store.vote(e.id, BOB)
    assert (await store.get_entry(e.id, include_hidden=True)).hidden
    with pytest.raises(NotAllowed):
        await store.unhide_entry(e.id, moderator=False)
    assert not (await store.unhide_entry(e.id, moderator=True)).hidden
    assert [i.id for i in (await store.list_gallery(G1)).items] == [e.id]


async def test_votes_one_per_user(store, finished_dream):
    d = await finished_dream(ALICE, G1)
    e = await store.publish(d.id, G1, by_user_id=ALICE)
    v = await store.vote(e.id, BOB)
    assert (v.votes, v.voted, v.changed) == (1, True, True)
    v = await store.vote(e.id, BOB)
    assert (v.votes, v.voted, v.changed) == (1, True, False)
    assert (await store.vote(e.id, CAROL)).votes == 2
    assert await store.has_voted(e.id, BOB) and not await store.has_voted(e.id, ALICE)
    u = await store.unvote(e.id, BOB)
    assert (u.votes, u.voted, u.changed) == (1, False, True)
    assert (await store.unvote(e.id, BOB)).changed is False
    assert await store.vote_count(e.id) == 1
    assert (await store.get_entry(e.id)).votes == 1
    with pytest.raises(NotFound):
        await store.vote(9999, BOB)
    with pytest.raises(NotFound):
        await store.unvote(9999, BOB)


async def test_listing_recent_and_top_paged(store, finished_dream):
    await store.touch_user(BOB, "bob")
    entries = []
    for i in range(5):
        d = await finished_dream(ALICE if i % 2 == 0 else BOB, G1, name="alice" if i % 2 == 0 else None)
        entries.append(await store.publish(d.id, G1, by_user_id=d.user_id, title=f"#{i}"))
    other = await finished_dream(CAROL, G2)
    await store.publish(other.id, G2, by_user_id=CAROL)
    # votes: #1 gets 3, #3 gets 2, #0 gets 1
    for entry, voters in ((entries[1], (10, 11, 12)), (entries[3], (10, 11)), (entries[0], (12,))):
        for v in voters:
            await store.vote(entry.id, v)

    recent = await store.list_gallery(G1, page_size=2)
    assert [i.title for i in recent.items] == ["#4", "#3"] and recent.total == 5 and recent.has_next
    assert [i.title for i in (await store.list_gallery(G1, page=2, page_size=2)).items] == ["#0"]
    top = await store.list_gallery(G1, sort="top", page_size=10)
    assert [i.title for i in top.items] == ["#1", "#3", "#0", "#4", "#2"]
    assert [i.votes for i in top.items] == [3, 2, 1, 0, 0]
    assert {i.author_name for i in top.items} == {"alice", "bob"}
    assert [i.title for i in (await store.list_gallery(G1, sort="top", page=1, page_size=2)).items] == ["#0", "#4"]
    assert (await store.list_gallery(G2)).total == 1
    with pytest.raises(ValueError):
        await store.list_gallery(G1, sort="random")  # type: ignore[arg-type]


async def test_gallery_opt_out(store, finished_dream):
    d = await finished_dream(ALICE, G1)
    e = await store.publish(d.id, G1, by_user_id=ALICE)
    await store.set_gallery_opt_out(ALICE, True)
    assert (await store.get_user(ALICE)).gallery_opt_out
    assert (await store.list_gallery(G1)).total == 0
    with pytest.raises(NotFound):
        await store.get_entry(e.id)
    d2 = await finished_dream(ALICE, G1)
    with pytest.raises(NotAllowed, match="opted out"):
        await store.publish(d2.id, G1, by_user_id=ALICE)
    await store.set_gallery_opt_out(ALICE, False)
    assert (await store.list_gallery(G1)).total == 1


async def test_guild_visibility_and_tokens(store, finished_dream):
    g = await store.touch_guild(G1, "Dream Club")
    assert g.gallery_visibility is GalleryVisibility.UNLISTED and len(g.unlisted_token) >= 32
    other = await store.touch_guild(G2, "Other")
    assert other.unlisted_token != g.unlisted_token
    assert (await store.guild_by_token(g.unlisted_token)).id == G1
    for bad in ("", "nope", g.unlisted_token[:-1], "' OR 1=1 --", "x" * 500):
        with pytest.raises(NotFound):
            await store.guild_by_token(bad)
    assert await store.list_public_galleries() == []

    pub = await store.set_gallery_visibility(G1, "public")
    assert pub.gallery_visibility is GalleryVisibility.PUBLIC and pub.name == "Dream Club"
    d = await finished_dream(ALICE, G1)
    await store.publish(d.id, G1, by_user_id=ALICE)
    [summary] = await store.list_public_galleries()
    assert (summary.guild.id, summary.entries) == (G1, 1) and summary.latest is not None

    await store.set_gallery_visibility(G1, GalleryVisibility.OFF)
    assert await store.list_public_galleries() == []
    with pytest.raises(NotFound):
        await store.guild_by_token(g.unlisted_token)
    await store.set_gallery_visibility(G1, "unlisted")
    rotated = await store.rotate_gallery_token(G1)
    assert rotated.unlisted_token != g.unlisted_token
    with pytest.raises(NotFound):
        await store.guild_by_token(g.unlisted_token)
    assert (await store.guild_by_token(rotated.unlisted_token)).id == G1
    with pytest.raises(StoreError, match="public, unlisted or off"):
        await store.set_gallery_visibility(G1, "everyone")
    with pytest.raises(NotFound):
        await store.get_guild(999)


async def test_ids_are_never_reused(store, finished_dream):
    """Old links (/d/<entry>) and button ids (dream id) never point at newer content."""
    d = await finished_dream(ALICE, G1)
    e = await store.publish(d.id, G1, by_user_id=ALICE)
    await store.unpublish(e.id, by_user_id=ALICE)
    again = await store.publish(d.id, G1, by_user_id=ALICE)
    assert again.id > e.id
    await store.delete_dream(d.id, by_user_id=ALICE)
    newer = await finished_dream(ALICE, G1)
    assert newer.id > d.id
