"""End-to-end: gallery moderators hide, unhide and unpublish entries; plain members can't."""

from __future__ import annotations

import discord
import pytest

from tests.bot.helpers import dream, dream_id_of, result_done

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _newest_entry_ids(env, user) -> list[str]:
    """The vote buttons on page 1 of ``/gallery recent`` (the newest visible entry)."""
    h = await env.fake.slash("gallery recent", user=user)
    msg = await h.wait_for_original(lambda m: m.embeds, timeout=20)
    return [c for c in msg.custom_ids() if c.startswith("vote:")]


async def test_moderators_hide_unhide_and_unpublish(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    keeper = fake.add_user("keeper")  # Manage Messages only: enough to moderate the gallery
    keeper_role = fake.add_role(w.guild, "Gallery keeper", discord.Permissions(manage_messages=True))
    fake.add_member(w.guild, keeper, roles=[keeper_role])

    h = await dream(env, small_png, user=w.bob)
    dream_id = dream_id_of(await h.wait_for_original(result_done, timeout=90))
    published = await fake.slash("gallery publish", {"dream": dream_id, "title": "bob's cat"}, user=w.bob)
    assert "Published" in published.text, published.text
    entry = await env.store.find_entry(w.guild.id, dream_id)
    assert await _newest_entry_ids(env, w.alice) == [f"vote:{entry.id}"]
    total = (await env.store.list_gallery(w.guild.id)).total

    # suggestions: visible entries to hide, hidden ones to unhide; nothing for plain members
    to_hide = await fake.autocomplete("gallery hide", {"entry": "bob's"}, "entry", user=keeper)
    assert entry.id in [c["value"] for c in to_hide]
    assert "bob's cat" in next(c["name"] for c in to_hide if c["value"] == entry.id)
    hidden = await fake.autocomplete("gallery unhide", {"entry": ""}, "entry", user=keeper)
    assert entry.id not in [c["value"] for c in hidden]
    assert await fake.autocomplete("gallery hide", {"entry": ""}, "entry", user=w.alice) == []

    refused = await fake.slash("gallery hide", {"entry": entry.id}, user=w.alice)
    assert refused.callback.ephemeral and "Only moderators" in refused.text and "Manage Messages" in refused.text
    assert not (await env.store.get_entry(entry.id, include_hidden=True)).hidden

    hidden = await fake.slash("gallery hide", {"entry": entry.id}, user=keeper)
    assert hidden.callback.ephemeral and "hidden" in hidden.text, hidden.text
    assert (await env.store.get_entry(entry.id, include_hidden=True)).hidden
    assert f"vote:{entry.id}" not in await _newest_entry_ids(env, w.alice)  # gone from /gallery recent
    assert (await env.store.list_gallery(w.guild.id)).total == total - 1
    unhide_choices = await fake.autocomplete("gallery unhide", {"entry": ""}, "entry", user=keeper)
    assert entry.id in [c["value"] for c in unhide_choices]

    refused = await fake.slash("gallery unhide", {"dream": dream_id}, user=w.bob)  # even the author can't
    assert refused.callback.ephemeral and "Only moderators" in refused.text
    shown = await fake.slash("gallery unhide", {"dream": dream_id}, user=keeper)  # by the dream's number
    assert shown.callback.ephemeral and "again" in shown.text, shown.text
    assert await _newest_entry_ids(env, w.alice) == [f"vote:{entry.id}"]  # back, newest first

    nothing = await fake.slash("gallery hide", {"entry": 987654321}, user=keeper)
    assert nothing.callback.ephemeral and "no entry #987654321" in nothing.text
    neither = await fake.slash("gallery hide", {}, user=keeper)
    assert neither.callback.ephemeral and "which gallery `entry`" in neither.text

    # unpublish: not someone else's as a plain member; any as a moderator; one's own always
    refused = await fake.slash("gallery unpublish", {"entry": entry.id}, user=w.alice)
    assert refused.callback.ephemeral and "Only moderators" in refused.text
    assert await env.store.find_entry(w.guild.id, dream_id) is not None
    mine = await fake.autocomplete("gallery unpublish", {"entry": ""}, "entry", user=w.bob)
    assert entry.id in [c["value"] for c in mine]
    not_hers = await fake.autocomplete("gallery unpublish", {"entry": ""}, "entry", user=w.alice)
    assert entry.id not in [c["value"] for c in not_hers]
    removed = await fake.slash("gallery unpublish", {"entry": entry.id}, user=w.mod)
    assert removed.callback.ephemeral and "out of this server's gallery" in removed.text, removed.text
    assert await env.store.find_entry(w.guild.id, dream_id) is None
    await fake.slash("gallery publish", {"dream": dream_id}, user=w.bob)
    own = await fake.slash("gallery unpublish", {"dream": dream_id}, user=w.bob)
    assert "out of this server's gallery" in own.text
    assert await env.store.find_entry(w.guild.id, dream_id) is None

    helped = await fake.slash("help", user=w.alice)
    assert all(c in helped.text for c in ("/gallery hide", "/gallery unhide", "/gallery unpublish", "/forgetme"))
    assert not fake.bot_errors and not fake.unhandled_routes
