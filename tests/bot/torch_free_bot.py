"""A bot process as in production, to check it never imports torch (issue 11 §2).

Run as ``python -m tests.bot.torch_free_bot DATA_DIR``: builds the real bot with
its own store and local executor (workers are separate processes: they hold
torch), connects it to the fake Discord, runs dreams through ``/dream`` (a
picture, noise, "Dream again", an animated GIF: clips are checked in the bot
process too), then prints one JSON line: whether ``torch``
(or ``torchvision``) is in this process's ``sys.modules``, its resident memory
after the dreams, and what was recorded of the dreams' params.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path


def rss_mb() -> float:
    """This process's resident set size (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (96, 72), (200, 120, 40)).save(buf, format="PNG")
    return buf.getvalue()


def _gif(frames: int = 3) -> bytes:
    from PIL import Image

    ims = [Image.new("RGB", (48, 32), (40 * i, 120, 200 - 40 * i)) for i in range(frames)]
    buf = io.BytesIO()
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=100, loop=0)
    return buf.getvalue()


async def main(data_dir: str) -> dict:
    from bot.runner import build_bot
    from tests.bot.conftest import make_settings
    from tests.bot.helpers import dream_id_of, result_done
    from tests.fakediscord import FakeDiscord

    settings = make_settings(Path(data_dir), max_size=64)
    bot = await build_bot(settings, web=False)
    png = _png()
    params: list[dict] = []
    async with FakeDiscord() as fake:
        w = fake.setup_world()
        async with fake.run_bot(bot, timeout=120):
            h = await fake.slash("dream", {"layer": "mixed3", "strength": "low"}, user=w.alice,
                                 attachments={"image": (png, "cat.png", "image/png")})
            msg = await h.wait_for_original(result_done, timeout=180)
            first = dream_id_of(msg)
            h = await fake.slash("dream", {"noise": True, "seed": 3}, user=w.alice)
            await h.wait_for_original(result_done, timeout=180)
            again = await fake.click(msg, f"dream:again:{first}", user=w.bob)
            await again.wait_for_original(result_done, timeout=180)
            h = await fake.slash("dream", {"seed": 5}, user=w.bob,
                                 attachments={"image": (_gif(), "clip.gif", "image/gif")})
            clip = await h.wait_for_original(result_done, timeout=180)
            gif_frames = getattr(clip.image(), "n_frames", 1)
            for user in (w.alice, w.bob):
                for d in (await bot.store.list_history(user.id, page=0, page_size=10)).items:
                    params.append(d.params_data)
            errors = list(fake.bot_errors)
    return {
        "torch": "torch" in sys.modules,
        "torchvision": "torchvision" in sys.modules,
        "rss_mb": round(rss_mb(), 1),
        "params": params,
        "gif_frames": gif_frames,
        "errors": [str(e) for e in errors],
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
