"""The real ``dreambot run`` in its own process, connected to a :class:`FakeDiscord` in the test's.

Promises about the running service (torch-free with the defaults, restarts,
``kill -9``) are tested on the entry point users start, with the settings they
get: only ``DISCORD_TOKEN``, ``DREAMBOT_DATA_DIR`` and what a test names in
``env`` are set. The child reaches the fake through ``subprocess_shim`` (a
``sitecustomize`` that re-points discord.py's API and gateway URLs); its output
goes to ``log_path``, which :meth:`wait_ready` and failing tests read.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from .server import FakeDiscord

ROOT = Path(__file__).resolve().parents[2]
SHIM = Path(__file__).resolve().parent / "subprocess_shim"
READY_LINE = "logged in as"

#: Variables of the test run that must not leak into a "default settings" bot.
_SCRUB_PREFIXES = ("DREAMBOT_", "DISCORD_")


def dreambot_command() -> list[str]:
    """The ``dreambot`` console script next to this interpreter (what users run)."""
    script = Path(sys.executable).with_name("dreambot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


class BotProcess:
    """``dreambot run`` as a child process; one instance per start (a restart is a new one)."""

    def __init__(
        self, fake: FakeDiscord, data_dir: Path, *, env: Optional[dict[str, str]] = None, name: str = "bot"
    ) -> None:
        self.fake = fake
        self.data_dir = Path(data_dir)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-{name}-{int(time.time() * 1000)}.log"
        base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
        pythonpath = [str(SHIM), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        self.env = {
            **base,
            "PYTHONPATH": os.pathsep.join(pythonpath),
            "FAKEDISCORD_URL": fake.base_url,
            "DISCORD_TOKEN": fake.token,
            "DREAMBOT_DATA_DIR": str(self.data_dir),
            **(env or {}),
        }
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self) -> BotProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps writing to it
        self.proc = subprocess.Popen(
            [*dreambot_command(), "run"], cwd=self.data_dir.parent, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    async def wait_ready(self, timeout: float = 120.0) -> BotProcess:
        """Until the bot logged in (gateway READY handled), or raise with its log."""
        deadline = time.monotonic() + timeout
        while READY_LINE not in self.log():
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"dreambot run exited ({self.returncode}):\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"dreambot run not ready after {timeout} s:\n{self.log()[-4000:]}")
            await asyncio.sleep(0.1)
        return self

    async def started(self, timeout: float = 120.0) -> BotProcess:
        return await self.start().wait_ready(timeout)

    @property
    def returncode(self) -> Optional[int]:
        return None if self.proc is None else self.proc.poll()

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    async def wait(self, timeout: float = 60.0) -> int:
        """The exit status, waiting at most ``timeout`` seconds (then ``TimeoutError``)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"dreambot run still running after {timeout} s:\n{self.log()[-3000:]}")
            await asyncio.sleep(0.05)
        return self.proc.returncode

    async def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, as a deploy does; the exit status."""
        self.signal(signal.SIGTERM)
        return await self.wait(timeout)

    async def kill(self) -> int:
        """``kill -9``: no clean-up runs."""
        self.signal(signal.SIGKILL)
        return await self.wait(10)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def maps(self) -> str:
        return Path(f"/proc/{self.pid}/maps").read_text()

    async def close(self) -> None:
        """Make sure it is gone (tests' clean-up)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            await self.wait(30)
        except TimeoutError:
            self.signal(signal.SIGKILL)
            await self.wait(10)
