"""Dreams lost across restarts (issue 17): a burst of /dream, and the bot restarted
again and again while it works through it.

Runs the real ``dreambot run`` (its own process, default settings) against the fake
Discord of ``tests/fakediscord``. A burst of dreams from users in several servers is
asked for; then, ``--restarts`` times, the bot is stopped at a random moment — SIGTERM
(a deploy; the grace period lets running dreams finish) or ``kill -9`` (a crash),
chosen at random — and started again. At the end every user's own message must hold
their result or one clear line; anything else is a lost dream (target: 0).

Also prints the time from a start to the first resumed dream's result, the CPU and its ISA.

Run by hand::

    python bench/bench_restarts.py                    # 18 dreams, 20 restarts
    python bench/bench_restarts.py --dreams 6 --restarts 5
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fakediscord


def photo_png(size: int = 96) -> bytes:
    import io

    from PIL import Image
    from skimage import data

    img = Image.fromarray(data.chelsea()).convert("RGB")
    img.thumbnail((size, size))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def isa() -> str:
    try:
        import torch

        return str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # noqa: BLE001 - informative only
        return "?"


def answered(handle) -> str:
    """'result', 'line' (one clear line) or '' (nothing final yet)."""
    msg = handle.original
    if msg is not None and msg.attachments and any(c.startswith("dream:again:") for c in msg.custom_ids()):
        return "result"
    if handle.followups and handle.followups[-1].ephemeral:
        return "line"
    if msg is not None and msg.content.startswith(("😵", "✖️")):
        return "line"
    return ""


async def main(args: argparse.Namespace) -> int:
    from tests.fakediscord import FakeDiscord
    from tests.fakediscord.bot_process import BotProcess

    rng = random.Random(args.seed)
    png = photo_png()
    print(f"CPU: {platform.processor() or platform.machine()}, ISA {isa()}; "
          f"{args.dreams} dreams, {args.restarts} restarts, seed {args.seed}")
    with tempfile.TemporaryDirectory(prefix="bench-restarts-") as tmp:
        data = Path(tmp) / "data"
        async with FakeDiscord() as fake:
            fake.setup_world()
            users = []
            for g in range((args.dreams + 2) // 3):  # the default cap: 3 dreams per server at a time
                guild = fake.add_guild(f"Server {g}")
                channel = fake.add_channel(guild, "general")
                for u in range(3):
                    user = fake.add_user(f"user{g}_{u}")
                    fake.add_member(guild, user)
                    users.append((user, channel))
            users = users[: args.dreams]
            bot = BotProcess(fake, data, name="start0")
            t0 = time.monotonic()
            await bot.started(600)
            print(f"first start (calibration included): {time.monotonic() - t0:.1f} s")
            handles = []
            for user, channel in users:
                handles.append(await fake.slash("dream", dict(args.options), user=user, channel=channel,
                                                attachments={"image": (png, "cat.png", "image/png")}))
            kinds = {"SIGTERM": 0, "kill -9": 0}
            resume_latency: list[float] = []
            answered_by: list[int] = []
            for i in range(args.restarts):
                await asyncio.sleep(rng.uniform(0.5, args.max_wait))
                kind = rng.choice(list(kinds))
                kinds[kind] += 1
                if kind == "SIGTERM":
                    await bot.terminate(120)
                else:
                    await bot.kill()
                before = {id(h): answered(h) for h in handles}
                bot = BotProcess(fake, data, name=f"start{i + 1}")
                start = time.monotonic()
                await bot.started(600)
                pending = [h for h in handles if not before[id(h)]]
                if pending:
                    try:
                        await fake.wait_for(lambda p=pending: any(answered(h) for h in p), timeout=args.max_wait)
                        resume_latency.append(time.monotonic() - start)
                    except TimeoutError:
                        pass
                done = sum(1 for h in handles if answered(h))
                answered_by.append(done)
                print(f"restart {i + 1:2d} ({kind:7s}): {done}/{len(handles)} answered")
            deadline = time.monotonic() + args.settle
            while time.monotonic() < deadline and not all(answered(h) for h in handles):
                await asyncio.sleep(0.5)
            await bot.close()
            outcome = [answered(h) for h in handles]
            lost = outcome.count("")
            live = sum(1 for h in handles if h.original is not None and not h.original.deleted
                       and any(c.startswith("dream:cancel:") for c in h.original.custom_ids()))
            print(f"restarts: {kinds}; answered by restart: {answered_by}")
            print(f"results {outcome.count('result')}, one-line answers {outcome.count('line')}, "
                  f"LOST {lost} (target 0); live progress bars left: {live}")
            if resume_latency:
                print(f"start -> first resumed answer: median {statistics.median(resume_latency):.1f} s, "
                      f"max {max(resume_latency):.1f} s (n={len(resume_latency)})")
            return 1 if lost or live else 0


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dreams", type=int, default=18)
    p.add_argument("--restarts", type=int, default=20)
    p.add_argument("--max-wait", type=float, default=8.0, help="longest random time between restarts (s)")
    p.add_argument("--settle", type=float, default=600.0, help="time allowed at the end (s)")
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--iterations", type=int, default=60, help="steps of each dream (1 octave, 96 px)")
    args = p.parse_args(argv)
    args.options = {"octaves": 1, "iterations": args.iterations}
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
