"""A real multi-node Ray cluster on 127.0.0.1, started with the ``ray`` command as an operator does.

``ray start --head`` (no CPUs: it only coordinates, as a head usually does) and
worker nodes with ``ray start --address`` (1 CPU each), all with token
authentication (``RAY_AUTH_MODE=token``, one ``RAY_AUTH_TOKEN``) in their own temp dir.
A node is faulted by signalling its raylet and every process under it (its
dream actor included): SIGKILL is a lost node, SIGSTOP a hung one.
:meth:`RayCluster.destroy` kills every process of this cluster (and only those).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process."""
    out: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        out[int(entry.name)] = (ppid, cmd)
    return out


def with_descendants(roots: set[int]) -> set[int]:
    procs = _processes()
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _) in procs.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


class RayCluster:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.client_port = free_port()
        self.temp_dir = Path(f"/tmp/dbray-{secrets.token_hex(3)}")
        #: what every node and every client needs, as the README says (the bot's driver process inherits it)
        self.auth_env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.env = {
            **os.environ,
            **self.auth_env,
            "PYTHONPATH": str(ROOT),
            "RAY_USAGE_STATS_ENABLED": "0",
            "OMP_NUM_THREADS": "1",
        }

    @property
    def client_address(self) -> str:
        return f"ray://127.0.0.1:{self.client_port}"

    def _ray(self, *args: str) -> None:
        done = subprocess.run([RAY, *args], env=self.env, capture_output=True, text=True, timeout=120, cwd=self.tmp)
        if done.returncode != 0:
            raise RuntimeError(f"ray {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")

    def start_head(self) -> None:
        self._ray(
            "start", "--head", f"--port={self.port}", f"--ray-client-server-port={self.client_port}",
            "--num-cpus=0", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={self.temp_dir}",
        )  # fmt: skip

    def add_node(self) -> None:
        self._ray("start", f"--address=127.0.0.1:{self.port}", "--num-cpus=1", "--disable-usage-stats")

    def start(self, nodes: int = 2) -> None:
        self.start_head()
        for _ in range(nodes):  # one at a time: nodes started side by side on one host collide
            self.add_node()

    def pids(self) -> set[int]:
        """Every process of this cluster: those naming its temp dir or port, and all under them."""
        marks = (str(self.temp_dir), f":{self.port}", f"port={self.port}")
        token = f"RAY_AUTH_TOKEN={self.auth_env['RAY_AUTH_TOKEN']}".encode()
        roots = set()
        for pid, (_, cmd) in _processes().items():
            if any(m in cmd for m in marks):
                roots.add(pid)
                continue
            with contextlib.suppress(OSError):  # started by this cluster's `ray start` (orphans too)
                if token in Path(f"/proc/{pid}/environ").read_bytes():
                    roots.add(pid)
        return with_descendants(roots) - with_descendants({os.getpid()})  # never the tests or the bot's driver

    def node_of(self, actor_pid: int) -> set[int]:
        """The processes of the node an actor runs on: its raylet (the actor's parent) and everything under it."""
        raylet = _processes()[actor_pid][0]
        assert "raylet" in _processes()[raylet][1], "an actor's parent is its node's raylet"
        return with_descendants({raylet})

    @staticmethod
    def signal_all(pids: set[int], sig: int) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def destroy(self) -> None:
        """SIGKILL every process of this cluster (the whole cluster is lost)."""
        for _ in range(3):
            pids = self.pids()
            if not pids:
                break
            self.signal_all(pids, signal.SIGSTOP)  # frozen first: none is orphaned (and so unfound) by another's death
            pids = with_descendants(pids)
            self.signal_all(pids, signal.SIGKILL)
            self.signal_all(pids, signal.SIGCONT)
            time.sleep(0.5)
        shutil.rmtree(self.temp_dir, ignore_errors=True)  # its sessions' logs and sockets
