"""Self-test of the fake Discord: a tiny discord.py bot defined here (not DreamBot) runs against it.

Proves that the real client logs in, connects (READY, GUILD_CREATE), syncs commands,
and that every route the bot helpers rely on round-trips.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands
from PIL import Image

from tests.fakediscord import FakeDiscord, InteractionFailed
from tests.images import png_bytes

pytestmark = pytest.mark.asyncio(loop_scope="session")


class NoteModal(discord.ui.Modal, title="Add a note"):
    note = discord.ui.TextInput(label="Note", custom_id="tiny:note", max_length=50)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"noted: {self.note.value}", ephemeral=True)


class AgainView(discord.ui.View):
    """Persistent view: fixed custom_ids, no timeout."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Again", custom_id="tiny:again", style=discord.ButtonStyle.primary)
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.send_modal(NoteModal())

    @discord.ui.button(label="Invert", custom_id="tiny:invert")
    async def invert(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.defer()  # type 6: deferred update
        src = interaction.message.attachments[0]
        img = Image.open(io.BytesIO(await src.read())).convert("RGB")
        out = Image.eval(img, lambda v: 255 - v)
        buf = io.BytesIO()
        out.save(buf, format="PNG")
        buf.seek(0)
        await interaction.edit_original_response(content="inverted",
                                                 attachments=[discord.File(buf, "inverted.png")])

    @discord.ui.select(custom_id="tiny:size", options=[discord.SelectOption(label=s, value=s)
                                                       for s in ("small", "large")])
    async def size(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.edit_message(content=f"size={select.values[0]}")


class TinyBot(commands.Bot):
    def __init__(self, *, message_content: bool = True, guild_id: int | None = None) -> None:
        self.sync_guild_id = guild_id
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(command_prefix="!", intents=intents)
        self.seen_messages: list[discord.Message] = []
        self.go = asyncio.Event()
        self.add_commands()

    async def setup_hook(self) -> None:
        self.add_view(AgainView())
        if self.sync_guild_id is not None:  # like a test-guild deployment
            guild = discord.Object(id=self.sync_guild_id)
            self.tree.copy_global_to(guild=guild)
            self.tree.clear_commands(guild=None)
            await self.tree.sync(guild=guild)
        await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        self.seen_messages.append(message)

    def add_commands(self) -> None:
        tree = self.tree
        styles = ["deepdream", "dreamy", "nightmare", "vangogh"]

        @tree.command(description="Dream on a picture")
        @app_commands.describe(image="picture", style="style", steps="iterations")
        async def dream(interaction: discord.Interaction, image: discord.Attachment, style: str = "deepdream",
                        steps: app_commands.Range[int, 1, 50] = 5) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.edit_original_response(content="progress 50%")
            data = await image.read()
            img = Image.open(io.BytesIO(data)).convert("RGB").rotate(90)
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            buf.seek(0)
            embed = discord.Embed(title="Dream done", description=f"{style} x{steps}")
            embed.set_image(url="attachment://dream.png")
            await interaction.edit_original_response(content="done", embed=embed,
                                                     attachments=[discord.File(buf, "dream.png")], view=AgainView())

        @dream.autocomplete("style")
        async def style_complete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=s.title(), value=s) for s in styles if s.startswith(current)]

        @tree.command(description="Ping")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", ephemeral=True)
            await interaction.followup.send("pong again", ephemeral=True)

        @tree.command(description="Post the last picture of this channel")
        async def last(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True)
            async for msg in interaction.channel.history(limit=20):
                if msg.attachments:
                    data = await msg.attachments[0].read()
                    await interaction.followup.send(f"found {msg.attachments[0].filename}",
                                                    file=discord.File(io.BytesIO(data), "last.png"))
                    await interaction.channel.send("posted publicly", file=discord.File(io.BytesIO(data), "p.png"))
                    return
            await interaction.followup.send("no picture here")

        gallery = app_commands.Group(name="gallery", description="Gallery")

        @gallery.command(name="show", description="Show someone's gallery")
        async def show(interaction: discord.Interaction, member: discord.Member, page: int = 1) -> None:
            await interaction.response.send_message(embed=discord.Embed(title=f"{member.name} p{page}"))

        tree.add_command(gallery)

        @tree.command(description="Admins only")
        @app_commands.default_permissions(manage_guild=True)
        async def admin(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("ok admin")

        @tree.context_menu(name="Dream this")
        async def dream_this(interaction: discord.Interaction, message: discord.Message) -> None:
            names = ",".join(a.filename for a in message.attachments)
            await interaction.response.send_message(f"would dream {names}", ephemeral=True)

        @tree.command(description="Answers twice (a bug)")
        async def twice(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("one")
            try:
                await interaction.client.http.request(  # bypass discord.py's local is_done() guard
                    discord.http.Route("POST", "/interactions/{i}/{t}/callback", i=interaction.id,
                                       t=interaction.token),
                    json={"type": 4, "data": {"content": "two"}})
            except discord.HTTPException as exc:
                await interaction.followup.send(f"second ack refused: {exc.code}")

        @tree.command(description="Edits after the token died")
        async def later(interaction: discord.Interaction) -> None:
            await interaction.response.defer()
            await interaction.client.go.wait()
            try:
                await interaction.edit_original_response(content="too late")
            except discord.HTTPException as exc:
                await interaction.channel.send(f"token dead: {exc.code}")

        @tree.command(description="Servers only")
        @app_commands.guild_only()
        async def servers(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("in a server")

        @tree.context_menu(name="Wave at")
        async def wave(interaction: discord.Interaction, user: discord.User) -> None:
            await interaction.response.send_message(f"waves at {user.name}")

        @tree.command(description="Too slow to answer")
        async def slow(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.6)
            try:
                await interaction.response.send_message("late")
            except discord.NotFound as exc:
                interaction.client.late_error = exc.code  # type: ignore[attr-defined]


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def env() -> AsyncIterator[tuple[FakeDiscord, TinyBot]]:
    async with FakeDiscord() as fake:
        fake.setup_world()
        bot = TinyBot()
        async with fake.run_bot(bot):
            yield fake, bot
        assert not fake.unhandled_routes, fake.unhandled_routes
        assert not fake.bot_errors, [r.getMessage() for r in fake.bot_errors]


async def test_connects_and_syncs(env):
    fake, bot = env
    w = fake.world
    assert bot.is_ready() and bot.user.id == fake.bot_user.id
    guild = bot.get_guild(w.guild.id)
    assert guild is not None and guild.name == "Dream Guild"
    assert {c.name for c in guild.text_channels} == {"general", "gallery"}
    assert guild.me is not None and guild.get_member(w.alice.id) is None  # no members intent: only the bot
    assert bot.application_id == fake.application_id
    assert (await bot.application_info()).owner.id == fake.app_owner.id
    names = {(c["name"], c["type"]) for c in fake.global_commands}
    assert {("dream", 1), ("ping", 1), ("gallery", 1), ("Dream this", 3)} <= names
    assert fake.command("dream")["options"][0]["type"] == 11  # attachment option
    assert fake.intents.guilds and fake.intents.message_content and not fake.intents.members
    assert fake.gateway_connections[0].compressed  # discord.py asks for zlib-stream
    fetched = await bot.tree.fetch_commands()
    assert {c.name for c in fetched} >= {"dream", "ping"}


async def test_slash_defer_progress_file_and_button(env):
    fake, bot = env
    w = fake.world
    src = png_bytes((32, 32), (250, 10, 10))
    h = await fake.slash("dream", {"style": "dreamy"}, user=w.alice,
                         attachments={"image": (src, "cat.png", "image/png")})
    assert h.callback.name == "DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE" and h.ack_delay < 3
    msg = await h.wait_for_original(lambda m: m.attachments, timeout=10)
    assert [v.content for v in msg.history] == ["", "progress 50%", "done"]
    assert msg.history[0].flags & 128 and not msg.history[1].flags & 128 and not msg.loading and not msg.ephemeral
    assert msg.embed["title"] == "Dream done" and "dreamy x5" in msg.text
    assert msg.attachments[0].filename == "dream.png" and msg.attachments[0].content_type == "image/png"
    assert msg.image().size == (32, 32) and msg.embed_image() is msg.attachments[0]
    assert fake.downloads and fake.downloads[-1].filename == "cat.png"
    assert msg.custom_ids() == ["tiny:again", "tiny:invert", "tiny:size"]
    assert msg in fake.channel_history(w.general)

    # Button -> deferred update -> edit original (the clicked message) with a new file.
    inv = await fake.click(msg, "tiny:invert", user=w.bob)
    assert inv.callback.type == 6
    await inv.wait_for(lambda h: h.original is msg and msg.content == "inverted")
    assert msg.attachments[0].filename == "inverted.png"
    pixel = msg.image().convert("RGB").getpixel((0, 0))
    assert pixel[0] < 10 and pixel[1] > 240

    # Select -> update message (type 7).
    sel = await fake.click(msg, "tiny:size", values=["large"])
    assert sel.callback.type == 7 and msg.content == "size=large"
    with pytest.raises(InteractionFailed):
        await fake.click(msg, "tiny:size", values=["huge"])

    # Persistent button -> modal -> submit.
    again = await fake.click(msg, "tiny:again", user=w.bob)
    assert again.modal["title"] == "Add a note"
    sub = await again.submit_modal({"tiny:note": "more dogs"})
    assert sub.original.content == "noted: more dogs" and sub.ephemeral


async def test_autocomplete_and_option_validation(env):
    fake, _ = env
    choices = await fake.autocomplete("dream", {"style": "d"}, focused="style")
    assert [c["value"] for c in choices] == ["deepdream", "dreamy"]
    with pytest.raises(InteractionFailed, match="required"):
        await fake.slash("dream", {"style": "dreamy"})
    with pytest.raises(InteractionFailed, match="out of range"):
        await fake.slash("dream", {"steps": 99}, attachments={"image": (b"x", "x.png")})
    with pytest.raises(KeyError, match="not synced|no slash command"):
        await fake.slash("nope")


async def test_ephemeral_followups_subcommands_and_permissions(env):
    fake, _ = env
    w = fake.world
    h = await fake.slash("ping")
    await h.wait_for_final(quiet=0.2)
    assert len(h.followups) == 1 and h.activity == 2
    assert h.original.content == "pong" and h.original.ephemeral
    assert h.followups[0].content == "pong again" and h.followups[0].ephemeral
    assert h.original not in fake.channel_history(w.general)

    g = await fake.slash("gallery show", {"member": w.bob, "page": 2})
    assert g.original.embed["title"] == "bob p2"

    with pytest.raises(InteractionFailed, match="cannot see"):
        await fake.slash("admin", user=w.alice)
    assert (await fake.slash("admin", user=w.mod)).original.content == "ok admin"
    assert (await fake.slash("admin", user=w.owner)).original.content == "ok admin"


async def test_history_context_menu_and_channel_messages(env):
    fake, bot = env
    w = fake.world
    blue = png_bytes((32, 32), (0, 0, 255))
    posted = await fake.post_message(w.gallery, "look", user=w.bob, attachments=[(blue, "blue.png")])
    await fake.wait_for(lambda: any(m.id == posted.id for m in bot.seen_messages))
    seen = next(m for m in bot.seen_messages if m.id == posted.id)
    assert seen.content == "look" and seen.attachments[0].filename == "blue.png"

    h = await fake.slash("last", channel=w.gallery)
    reply = await h.wait_for_followup(1)
    assert reply is h.original and reply.ephemeral and reply.content == "found blue.png"
    assert reply.image().getpixel((0, 0))[2] == 255
    public = await fake.wait_for(lambda: [m for m in fake.channel_history(w.gallery) if m.author is fake.bot_user])
    assert public[-1].attachments[0].filename == "p.png"

    ctx = await fake.message_command("Dream this", posted, user=w.alice)
    assert ctx.original.content == "would dream blue.png"


async def test_discord_rules_enforced(env):
    fake, _ = env
    h = await fake.slash("twice")
    await h.wait_for_followup(1)
    assert h.followups[0].content == "second ack refused: 40060"
    assert h.errors[0]["code"] == 40060

    old = fake.ack_deadline
    fake.ack_deadline = 0.3
    try:
        with pytest.raises(InteractionFailed, match="did not acknowledge|failed"):
            await fake.slash("slow")
        await fake.wait_for(lambda: getattr(env[1], "late_error", None))
        assert env[1].late_error == 10062
    finally:
        fake.ack_deadline = old

    w = fake.world
    muted = fake.add_channel(w.guild, "muted", bot_permissions=discord.Permissions(view_channel=True))
    await fake.wait_for(lambda: env[1].get_channel(muted.id))
    with pytest.raises(discord.Forbidden):
        await env[1].get_channel(muted.id).send("hi")


async def test_dm_user_command_and_token_expiry(env):
    fake, bot = env
    w = fake.world
    dm = fake.dm_channel(w.alice)
    h = await fake.slash("ping", channel=dm)
    assert h.original.content == "pong" and "user" in h.payload and "member" not in h.payload

    with pytest.raises(InteractionFailed, match="not available in DMs"):
        await fake.slash("servers", channel=dm)
    alice = await bot.fetch_user(w.alice.id)
    await alice.send("hello in private")
    assert [m.content for m in fake.channel_history(dm) if m.author is fake.bot_user][-1] == "hello in private"

    wave = await fake.user_command("Wave at", w.bob, user=w.alice)
    assert wave.original.content == "waves at bob"

    later = await fake.slash("later")
    fake.expire(later)
    bot.go.set()
    notice = await fake.wait_for_message(w.general, lambda m: "token dead" in m.content)
    assert notice.content == "token dead: 50027" and later.errors[0]["code"] == 50027
    assert later.original.loading  # never replaced


async def test_message_limits_and_uploads(env):
    fake, bot = env
    w = fake.world
    channel = bot.get_channel(w.general.id)
    with pytest.raises(discord.HTTPException) as info:
        await channel.send("x" * 2001)
    assert info.value.code == 50035
    with pytest.raises(discord.HTTPException) as info:
        await channel.send(embeds=[discord.Embed(description="d" * 4000) for _ in range(2)])  # > 6000 in total
    assert info.value.code == 50035
    with pytest.raises(discord.HTTPException) as info:
        await channel.send(view=discord.ui.View().add_item(discord.ui.Button(label="b", custom_id="c" * 101)))
    assert info.value.code == 50035

    old = fake.upload_limit
    fake.upload_limit = 1000
    try:
        with pytest.raises(discord.HTTPException) as info:
            await channel.send(file=discord.File(io.BytesIO(b"\0" * 1001), "big.bin"))
        assert info.value.status == 413 and info.value.code == 40005
    finally:
        fake.upload_limit = old

    sent = await channel.send("two files", files=[discord.File(io.BytesIO(png_bytes((32, 32), (9, 9, 9))), "a.png"),
                                                  discord.File(io.BytesIO(b"hello"), "b.txt")])
    stored = fake.messages[sent.id]
    assert [(a.filename, a.content_type) for a in stored.attachments] == [("a.png", "image/png"),
                                                                          ("b.txt", "text/plain")]
    assert await sent.attachments[1].read() == b"hello"  # round trip through the fake CDN
    edited = await sent.edit(content="one file", attachments=[sent.attachments[0]])
    assert [a.filename for a in edited.attachments] == ["a.png"] == [a.filename for a in stored.attachments]
    assert [v.content for v in stored.history] == ["two files", "one file"]
    await sent.delete()
    assert stored.deleted and stored not in fake.channel_history(w.general)
    fake.http_errors.clear()


async def test_injected_errors(env):
    fake, bot = env
    w = fake.world
    channel = bot.get_channel(w.general.id)
    fake.inject_error("POST", r"^/channels/\d+/messages$", 429)
    sent = await channel.send("after a rate limit")  # discord.py waits retry_after and retries
    assert fake.messages[sent.id].content == "after a rate limit"
    assert [s for m, p, s in fake.requests if m == "POST" and p.endswith("/messages")][-2:] == [429, 200]

    fake.inject_error("PATCH", r"/messages/@original$", 403, code=50013, message="Missing Permissions")
    h = await fake.slash("dream", attachments={"image": (png_bytes((32, 32), (5, 5, 5)), "x.png")})
    await fake.wait_for(lambda: fake.bot_errors)  # the tiny bot's command raised Forbidden
    assert any(r["status"] == 403 for r in fake.http_errors)
    assert h.original.loading  # the edit never landed
    fake.bot_errors.clear()
    fake.http_errors.clear()


async def test_bot_resumes_after_a_dropped_connection(env):
    fake, bot = env
    first = fake.gateway_connections[-1]
    await fake.drop_connection()
    await fake.wait_for(lambda: fake.connected and fake.gateway_connections[-1] is not first, timeout=10)
    resumed = fake.gateway_connections[-1]
    assert resumed.session_id == first.session_id and any(m.get("op") == 6 for m in resumed.received)
    h = await fake.slash("ping")
    assert h.original.content == "pong"


async def test_bad_token_fails_login():
    async with FakeDiscord(token="right") as fake:
        bot = TinyBot()
        with pytest.raises(discord.LoginFailure):
            await bot.login("wrong")
        await bot.close()
        assert ("GET", "/api/v10/users/@me", 401) in fake.requests


async def test_message_content_intent_is_required_to_see_attachments():
    async with FakeDiscord() as fake:
        w = fake.setup_world()
        bot = TinyBot(message_content=False, guild_id=w.guild.id)
        async with fake.run_bot(bot):
            assert not fake.global_commands and fake.command("last")["guild_id"] == str(w.guild.id)
            posted = await fake.post_message(w.general, "look", user=w.bob,
                                             attachments=[(png_bytes((32, 32), (1, 2, 3)), "a.png")])
            await fake.wait_for(lambda: any(m.id == posted.id for m in bot.seen_messages))
            seen = next(m for m in bot.seen_messages if m.id == posted.id)
            assert seen.content == "" and not seen.attachments
            h = await fake.slash("last")
            assert h.payload["data"]["guild_id"] == str(w.guild.id)
            assert (await h.wait_for_followup(1)).content == "no picture here"
        assert not fake.bot_errors and not fake.unhandled_routes


class ShardedTiny(commands.AutoShardedBot):
    def __init__(self, shard_count: int | None) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default(), shard_count=shard_count)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass  # discord.py waits 5 s between shards by default

    async def setup_hook(self) -> None:
        @self.tree.command(description="Which shard am I on")
        async def shard(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(f"shard {interaction.guild.shard_id}")

        await self.tree.sync()


@pytest.mark.parametrize("shard_count", [None, 2])
async def test_auto_sharded_client(shard_count):
    async with FakeDiscord() as fake:
        guilds = {}
        while len(guilds) < 2:  # one guild per shard parity
            g = fake.add_guild(f"g{len(guilds)}")
            guilds.setdefault((g.id >> 22) % 2, g)
        cast = []
        for g in guilds.values():
            user = fake.add_user(f"u{g.id}")
            fake.add_member(g, user)
            cast.append((g, fake.add_channel(g, "general"), user))
        bot = ShardedTiny(shard_count)
        async with fake.run_bot(bot):
            assert {g.id for g in bot.guilds} >= {g.id for g in guilds.values()}
            for g, ch, user in cast:
                h = await fake.slash("shard", user=user, channel=ch)
                expected = (g.id >> 22) % shard_count if shard_count else 0
                assert h.original.content == f"shard {expected}"
        if shard_count is None:
            assert any(path.endswith("/gateway/bot") for _, path, _ in fake.requests)
        assert not fake.bot_errors and not fake.unhandled_routes


async def test_waiting_explains_what_happened(env):
    fake, bot = env
    h = await fake.slash("ping")
    with pytest.raises(TimeoutError, match="pong again"):
        await h.wait_for(lambda h: len(h.followups) > 5, timeout=0.3)
    bot.go.set()
    later = await fake.slash("later")  # defers, then edits to "too late"
    await later.wait_for(lambda h: h.original and not h.original.loading, timeout=5)
    await fake.delete_message(later.original)
    with pytest.raises(InteractionFailed, match="deleted"):
        await later.wait_for_original(lambda m: "never" in m.content, timeout=5)


async def test_nested_fakes_repoint_discord_py():
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    original = Route.BASE
    a = await FakeDiscord().start()
    b = await FakeDiscord().start()
    assert b.api_base == Route.BASE and str(DiscordWebSocket.DEFAULT_GATEWAY) == b.gateway_url
    await a.close()  # out of order
    assert b.api_base == Route.BASE
    await b.close()
    assert original == Route.BASE  # back to whatever was active before (discord.com if none)
