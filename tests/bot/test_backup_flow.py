"""Backup while dreaming, restore, then /history shows everything.

The real ``dreambot db backup`` process copies the running bot's data folder (SQLite
file and file store, DEFAULT settings) while a burst of /dreams is being written
through the real executor; ``dreambot db restore`` puts it into a fresh data folder,
and a bot started on that folder shows every dream finished before the backup, the
preset and the gallery entry, and dreams again.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.bot.helpers import dream, dream_id_of, finished_dream, result_done

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(
        bool(os.environ.get("DREAMBOT_TEST_DATABASE_URL")),
        reason="restores into a second data folder (SQLite); tests/store/test_backup.py covers PostgreSQL",
    ),
]
ROOT = Path(__file__).resolve().parents[2]


async def _dreambot_db(*argv: str, data_dir: Path) -> tuple[int, str, str]:
    """``dreambot db ARGV`` in its own process (the event loop, and so the bot, keeps running)."""
    env = {k: v for k, v in os.environ.items() if k != "DREAMBOT_DATABASE_URL"}
    env.update(DREAMBOT_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "db", *argv, env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_backup_while_dreaming_restores_to_a_bot_that_shows_everything(bot_env, small_png, tmp_path):
    from bot.metrics import Metrics
    from bot.runner import build_bot
    from bot.store import Store
    from tests.bot.conftest import make_settings

    env = bot_env
    fake, w = env.fake, env.world
    dana, eve = fake.add_user("dana"), fake.add_user("eve")
    fake.add_member(w.guild, dana)
    fake.add_member(w.guild, eve)

    # finished before the backup: a dream published to the gallery, a preset
    _, _, published = await finished_dream(env, small_png, user=dana)
    pub = await fake.slash("gallery publish", {"dream": published, "title": "dana's cat"}, user=dana)
    assert "Published" in pub.text, pub.text
    saved = await fake.slash("preset save", {"name": "night", "layer": "mixed5"}, user=dana)
    assert "night" in saved.text, saved.text

    # the burst: three dreams each, queued behind one worker; the backup starts once one is done
    burst = [await dream(env, small_png, user=u, iterations=12) for u in (dana, eve) for _ in range(3)]
    await fake.wait_for(lambda: any(h.original is not None and result_done(h.original) for h in burst), timeout=120)
    done_before = {dream_id_of(h.original) for h in burst if h.original is not None and result_done(h.original)}
    done_before.add(published)
    code, out, err = await _dreambot_db("backup", str(tmp_path / "bk"), data_dir=env.settings.data_dir)
    assert code == 0, err
    assert out.startswith("backed up") and "finished" in out and not err, (out, err)
    for h in burst:
        await h.wait_for_original(result_done, timeout=180)
    all_done = {dream_id_of(h.original) for h in burst} | {published}
    assert done_before < all_done, "the burst was over before the backup began"

    restored_dir = tmp_path / "restored"
    code, out, err = await _dreambot_db("restore", str(tmp_path / "bk"), data_dir=restored_dir)
    assert code == 0, err
    settings = make_settings(restored_dir)
    restored = await Store.open(settings)
    await env.bot.close()
    try:
        bot = await build_bot(settings, store=restored, executor=env.executor, metrics=Metrics())
        async with fake.run_bot(bot, timeout=60):
            shown = {}
            for user in (dana, eve):
                h = await fake.slash("history", user=user)
                shown[user.id] = h.text
            for dream_id in done_before:
                info = await restored.get_dream(dream_id)
                assert info.status.value == "done" and restored.files.exists(info.result.sha256)
                assert f"✅ **#{dream_id}**" in shown[info.user_id], shown[info.user_id]
            presets = await fake.slash("preset list", user=dana)
            assert "night" in presets.text
            gallery = await fake.slash("gallery recent", user=eve)
            page = await gallery.wait_for_original(lambda m: m.embeds, timeout=20)
            assert "dana's cat" in page.text and page.attachments  # with its picture, from the restored files
            # a working bot: it dreams on the restored store
            _, msg, new_id = await finished_dream(env, small_png, user=eve)
            assert (await restored.get_dream(new_id)).status.value == "done" and msg.image().size[0] > 0
            assert not fake.bot_errors
    finally:
        await restored.close()
        await env.start_bot()
