"""A fake Discord for end-to-end tests of the bot through the real discord.py client.

:class:`FakeDiscord` serves, on 127.0.0.1 (free port), the REST routes discord.py 2.x
uses (login, application info, command sync, channel messages, interaction
callbacks, webhook follow-ups/edits, multipart uploads), a CDN for attachments,
and the gateway websocket (HELLO, heartbeat ACK, IDENTIFY -> READY + GUILD_CREATE,
RESUME, member chunk requests; zlib-stream compressed like Discord).  While open it
patches ``discord.http.Route.BASE`` (REST and interaction webhooks) and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (a plain ``Client`` never
asks ``GET /gateway/bot``; that route exists for ``AutoShardedClient``), and
restores them on close.  One FakeDiscord at a time per process.  ``AutoShardedClient``
works too (``GET /gateway/bot``; events routed to the shard owning the guild, DMs to shard 0).

Usage (the whole test in one event loop; mark tests ``loop_scope="session"``
because the project's async fixtures live in the session loop)::

    import pytest
    from tests.fakediscord import FakeDiscord

    pytestmark = pytest.mark.asyncio(loop_scope="session")

    async def test_dream(sample_png):
        async with FakeDiscord() as fake:
            w = fake.setup_world()            # guild, #general, #gallery, owner/admin/mod/alice/bob
            bot = make_my_bot()               # a discord.Client / commands.Bot, NOT started
            async with fake.run_bot(bot):     # login, gateway, READY, guilds, on_ready (setup_hook may sync)
                h = await fake.slash("dream", {"strength": "medium"}, user=w.alice,
                                     attachments={"image": (sample_png, "cat.png", "image/png")})
                # slash() returns after the bot acknowledged (else raises InteractionFailed)
                assert h.callback.type == 5 and h.ack_delay < 3       # deferred in time
                msg = await h.wait_for_original(lambda m: m.attachments, timeout=60)
                img = msg.image()                                      # PIL image of the result
                await fake.click(msg, "dream:again:123", user=w.bob)
            assert not fake.unhandled_routes and not fake.bot_errors

or with the fixture: ``from tests.fakediscord.fixtures import fake_discord`` in your
conftest (a ``FakeDiscord`` with ``setup_world()`` done; ``fake.world`` has the cast).

World building (before or after the bot connects; later additions are dispatched):
``add_user(name)``, ``add_guild(name, owner=)``, ``add_role(guild, name, permissions)``,
``add_channel(guild, name, bot_permissions=)`` (to test "missing permissions"),
``add_member(guild, user, roles=[...])``, ``dm_channel(user)``,
``await post_message(channel, content, user=, attachments=[(bytes, "a.png")], reply_to=)``
(a user message; the bot gets MESSAGE_CREATE, and finds it in ``GET /channels/{id}/messages``),
``await react(message, "👍", user=)``.  Files: ``(bytes, filename[, content_type])`` or a
``FakeAttachment``; they are served at ``fake.base_url + /attachments/...``;
``fake.host_file(bytes, "x.png")`` returns such a URL (for ``image_url`` style options).

Acting as a user (all return an :class:`InteractionHandle` after the bot acknowledged):
``slash("group sub", {opt: value}, user=, channel=, attachments={opt: file})`` (option
values checked against the synced definition: unknown command/option, missing required,
outside choices or ranges, lacking ``default_member_permissions`` -> ``InteractionFailed``;
``validate=False`` to send anyway), ``autocomplete(cmd, {opt: "partial"}, focused=opt)`` ->
list of choice dicts, ``click(message, custom_id, user=, values=[...])`` (buttons and
selects; disabled components refuse), ``message_command(name, message)``,
``user_command(name, target)``, ``handle.submit_modal({custom_id: text})`` /
``submit_modal(modal_dict, values)``.  ``wait_ack=False`` to inspect a non-answer.

What the bot did -- on the handle: ``callbacks`` (``CallbackRecord``: type 4 message,
5 defer, 6 deferred update, 7 update, 8 autocomplete, 9 modal; ``.flags``, ``.ephemeral``,
``.delay`` seconds after dispatch), ``ack_delay``, ``deferred``, ``ephemeral``,
``original`` (``FakeMessage``: latest ``content``, ``embeds``, ``components``,
``attachments`` (``FakeAttachment.data``/``.filename``/``.content_type``/``.image()``),
``flags``, ``loading`` while "thinking", ``history`` of every version, ``text`` = content
and embed text), ``followups``, ``choices``, ``modal``, ``errors`` (Discord errors the
bot got on this interaction, e.g. double ack 40060, late ack 10062).  Note: the first
follow-up after a "thinking" defer replaces the placeholder (as on Discord): it is
``original`` and also ``followups[0]``.  Waiting: ``await h.wait_ack()``,
``h.wait_for(lambda h: ...)``, ``h.wait_for_original(pred)``, ``h.wait_for_followup(n)``,
``h.wait_for_final(quiet=0.5)``; globally ``await fake.wait_for(lambda: ..., timeout=)``
(raises if the bot task died), ``await fake.wait_for_message(channel, pred)`` (newest
visible bot message matching).  ``msg.embed_image()`` gives the attachment an embed shows.
``fake.expire(handle)`` kills an interaction token now (as after 15 min: webhook
edits/follow-ups get 401 50027), to test fallbacks to channel messages.
``fake.assert_clean()`` fails on unhandled routes or logged bot errors.
``fake.inject_error("PATCH", r"/messages/@original$", 403, code=50013, times=1)`` makes the
next matching request(s) fail (429 = a real rate limit that discord.py waits out and retries).
On the fake: ``messages`` (id -> FakeMessage), ``channel_history(ch)``,
``bot_messages(ch)``, ``global_commands``/``guild_commands[guild_id]``/``command(name)``,
``sync_count``, ``requests`` ((method, path, status)), ``http_errors``,
``unhandled_routes`` (should stay empty), ``downloads`` (attachments the bot fetched),
``typing``, ``bot_errors`` (ERROR log records while running the bot), ``intents``,
``dispatched`` ((event, data) sent on the gateway), ``gateway_connections``.
``await fake.drop_connection()`` closes the websocket like a network blip (the client RESUMEs).
On messages: ``custom_ids()``, ``component(custom_id)``, ``buttons()``, ``image(i)``, ``embed``.

Discord behaviour reproduced: 3 s acknowledgement deadline (``FakeDiscord(ack_deadline=)``,
``None`` disables), one acknowledgement per interaction, follow-ups only after acknowledging,
message limits (2000 chars, 10 embeds / 6000 chars, 5 rows, custom_id <= 100, 25 choices,
10 attachments, ``upload_limit`` bytes per file -> 413), empty messages, bot permissions per
channel (403 50013), message content intent (content/attachments blanked for others'
messages without it), members in GUILD_CREATE only with the members intent,
``Authorization: Bot <token>`` on REST (bad token -> LoginFailure).

Self-test: ``pytest tests/fakediscord`` (a tiny bot defined in the test; ~5 s).
"""

from .interactions import CallbackRecord, InteractionFailed, InteractionHandle
from .models import FakeAttachment, FakeChannel, FakeGuild, FakeMember, FakeMessage, FakeRole, FakeUser
from .server import FakeDiscord, World

__all__ = [
    "CallbackRecord",
    "FakeAttachment",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "InteractionFailed",
    "InteractionHandle",
    "World",
]
