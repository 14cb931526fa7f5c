"""Drives the real ``dreambot run`` with the defaults users get, then kills it (issues 18 §2, 17 §3).

Run as ``python -m tests.bot.torch_free_bot WORK_DIR`` (its own process, so the fake
Discord never shares a process with another test's bot): starts a fake Discord,
starts ``dreambot run`` as a child process through
:class:`tests.fakediscord.bot_process.BotProcess` (only ``DISCORD_TOKEN`` and
``DREAMBOT_DATA_DIR`` set: every other setting is the default), and as users of the
fake Discord runs ``/dream`` with a picture, ``/dream noise:True``, "Dream again",
``/dream`` with an animated GIF (a clip: checked in the bot process too), the ``layer``
autocomplete and ``/atlas layer:mixed4`` twice (rendered by the executor, then served
from the render cache in the bot process). Then it reads
the bot process's resident memory (``/proc/PID/status``) and whether it maps torch
(``/proc/PID/maps``). Last, it starts a big dream, ``kill -9``s the bot mid-dream and
times how long every process the bot started (its workers) outlives it.
Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
from pathlib import Path
from typing import Any


def _png(size: tuple[int, int] = (96, 72)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def _gif(frames: int = 3) -> bytes:
    from PIL import Image

    ims = [Image.new("RGB", (48, 32), (40 * i, 120, 200 - 40 * i)) for i in range(frames)]
    buf = io.BytesIO()
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=100, loop=0)
    return buf.getvalue()


def _torch_maps(maps: str) -> list[str]:
    """The torch libraries and modules a process has mapped (``libtorch*``, ``.../torch/...``)."""
    paths = {line.split()[-1] for line in maps.splitlines() if len(line.split()) >= 6}
    return sorted(p for p in paths if "libtorch" in p or "/torch/" in p or "/torchvision/" in p)


def _sheet(message: Any) -> bool:
    return bool(message is not None and message.attachments) and any(
        c.startswith("atlas:pick:") for c in message.custom_ids()
    )


def _dreaming(message: Any) -> bool:
    return "Dreaming" in (message.content or "")


async def main(work_dir: str) -> dict[str, Any]:
    from tests.bot.helpers import dream_id_of, result_done
    from tests.executor.processes import descendants, seconds_until_gone
    from tests.fakediscord import FakeDiscord
    from tests.fakediscord.bot_process import BotProcess

    png = _png()
    async with FakeDiscord() as fake:
        w = fake.setup_world()
        # the render cache's place only (the suite's renders never reach the user's cache)
        bot = BotProcess(fake, Path(work_dir) / "data", env={"DREAMBOT_ATLAS_DIR": str(Path(work_dir) / "atlas")})
        try:
            await bot.started(timeout=240)
            await fake.wait_for(lambda: fake.global_commands, timeout=60, what="commands to be synced")
            # one dream per user: the default cooldown is 10 s per user
            h = await fake.slash("dream", {"layer": "mixed3", "strength": "low"}, user=w.alice,
                                 attachments={"image": (png, "cat.png", "image/png")})
            msg = await h.wait_for_original(result_done, timeout=300)
            h = await fake.slash("dream", {"noise": True, "seed": 3}, user=w.bob)
            await h.wait_for_original(result_done, timeout=300)
            again = await fake.click(msg, f"dream:again:{dream_id_of(msg)}", user=w.mod)
            await again.wait_for_original(result_done, timeout=300)
            h = await fake.slash("dream", {"seed": 5}, user=w.admin,
                                 attachments={"image": (_gif(), "clip.gif", "image/gif")})
            clip = await h.wait_for_original(result_done, timeout=300)
            gif_frames = getattr(clip.image(), "n_frames", 1)
            # the atlas at the defaults (128 px a filter, the renderer's steps): a sheet the executor
            # renders, then the same sheet at once from the render cache; the layer autocomplete
            choices = await fake.autocomplete("dream", {"layer": "mixed4:9"}, "layer", user=w.alice)
            h = await fake.slash("atlas", {"layer": "mixed4"}, user=w.mod)
            sheet = await h.wait_for_original(_sheet, timeout=600)
            atlas_px = list(sheet.image().size)
            h = await fake.slash("atlas", {"layer": "mixed4"}, user=w.bob)
            atlas_cached = h.callback.type == 4 and _sheet(h.original)
            rss_mb = bot.rss_mb()
            torch_maps = _torch_maps(bot.maps())
            errors = [str(e) for e in fake.bot_errors]

            # kill -9 mid-dream: the bot's workers must not outlive it
            h = await fake.slash("dream", {"seed": 7}, user=w.owner,
                                 attachments={"image": (_png((1024, 768)), "big.png", "image/png")})
            await h.wait_for_original(_dreaming, timeout=300)
            workers = descendants(bot.pid)
            t0 = time.monotonic()
            await bot.kill()
            orphan_s, orphans = await asyncio.to_thread(seconds_until_gone, workers, t0, 10.0)
        finally:
            await bot.close()
    return {
        "rss_mb": round(rss_mb, 1),
        "torch_maps": torch_maps[:5],
        "gif_frames": gif_frames,
        "autocomplete": [c["value"] for c in choices][:3],
        "atlas_px": atlas_px,
        "atlas_cached": atlas_cached,
        "errors": errors,
        "workers": sorted(workers),
        "orphan_exit_s": round(orphan_s, 3),
        "orphans": sorted(orphans),
        "log_tail": bot.log()[-1500:],
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
