"""`ExecutorConfig`: how the executor runs dream jobs (backend, devices, limits).

The bot builds one from its settings (``bot/executor_config.py``); ``dream_core``
never imports ``bot``.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dream_core.catalog import DEFAULT_MODEL

Backend = Literal["local", "ray"]

class ExecutorConfig(BaseModel):
    """Configuration of an executor. Immutable; every field has a default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Backend = "local"
    devices: Optional[tuple[str, ...]] = Field(
        None,
        description="local backend: one worker per entry ('cuda:0', 'cuda:1', 'cpu'); "
        "default: every visible GPU, else one CPU worker",
    )

    # --- scheduling limits --------------------------------------------------
    max_queue: int = Field(100, ge=1, description="jobs waiting (not yet started), all users together")
    max_queued_per_user: int = Field(3, ge=1, description="jobs one user may have waiting")
    max_queued_per_guild: int = Field(20, ge=1, description="jobs one server may have waiting")
    job_timeout_s: float = Field(900.0, gt=0, description="running time allowed per job")
    clip_timeout_max_s: float = Field(
        3600.0,
        gt=0,
        description="a clip's time limit grows with its frames (job_timeout_s x its work in stills) up to this",
    )
    atlas_max_running: int = Field(
        1,
        ge=1,
        description="atlas jobs (feature visualisations) running at once; they wait behind every dream: "
        "one never starts while a dream is waiting",
    )
    cancel_grace_s: float = Field(
        10.0, gt=0, description="after a cancel or time-out, how long a worker may take to stop before it is killed"
    )

    # --- input limits (passed to dream_core.images.load_image in the worker) ---
    max_attachment_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    max_pixels: int = Field(40_000_000, ge=1024)
    max_size: int = Field(1024, ge=32, description="max working resolution (long side); caps params.max_size")

    # --- workers ----------------------------------------------------------------
    preload_models: tuple[str, ...] = Field((DEFAULT_MODEL,), description="models each worker loads at start")
    model_cache_size: int = Field(2, ge=1, description="models a worker keeps warm")
    torch_threads: Optional[int] = Field(None, ge=1, description="torch.set_num_threads in each worker")
    cpu_share: Literal["auto", "off"] = Field(
        "auto",
        description="auto: a CPU worker's torch threads follow the cores other processes leave free, "
        "up to torch_threads (dream_core.cpu_share); off: always torch_threads",
    )
    worker_start_timeout_s: float = Field(300.0, gt=0)
    progress_every_s: float = Field(0.25, ge=0, description="min seconds between progress events from a worker")
    preview_size: int = Field(256, ge=16, le=1024, description="long side of octave previews (px)")
    restart_backoff_max_s: float = Field(30.0, ge=0, description="cap of the delay between worker restarts")

    # --- Ray backend --------------------------------------------------------------
    ray_address: Optional[str] = Field(None, description="'auto', 'ray://host:10001'; None: start a local Ray")
    ray_actors: Optional[int] = Field(None, ge=1, description="dream actors; default: one per GPU, else 1")
    ray_gpus_per_actor: float = Field(1.0, ge=0, description="fractional allowed (0.5 = two actors per GPU)")
    ray_cpus_per_actor: float = Field(1.0, ge=0)
    ray_num_cpus: Optional[int] = Field(None, ge=1, description="CPUs of a locally started Ray (default: all)")
    ray_namespace: str = "dreambot"
    ray_heartbeat_s: float = Field(
        10.0, gt=0, description="an actor that does not answer for this long, busy or idle, is a hung node: replaced"
    )
    ray_connect_timeout_s: float = Field(60.0, gt=0, description="how long one connection attempt to Ray may take")
    ray_ship_code: bool = Field(
        False, description="ship the dream_core package to the cluster (runtime_env py_modules)"
    )

    @field_validator("devices", mode="before")
    @classmethod
    def _split_devices(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = tuple(p.strip() for p in value.split(",") if p.strip())
            return parts or None
        return value

    @field_validator("devices")
    @classmethod
    def _check_devices(cls, value: Optional[tuple[str, ...]]) -> Optional[tuple[str, ...]]:
        if value is None:
            return None
        for dev in value:
            kind = dev.split(":", 1)[0]
            if kind not in ("cpu", "cuda", "mps"):
                raise ValueError(f"unknown device {dev!r} (use 'cpu', 'cuda:0', 'cuda:1', ...)")
        return value
