"""The executor's configuration from the bot's settings.

:class:`dream_core.executor.ExecutorConfig` knows nothing of the bot; this is where
the bot's setting names (``DREAMBOT_EXECUTOR_BACKEND``, ``DREAMBOT_MAX_QUEUE``, ...)
are mapped onto it.
"""

from __future__ import annotations

from typing import Any

from bot.settings import Settings
from dream_core.executor.config import ExecutorConfig


def executor_config(settings: Settings, **overrides: Any) -> ExecutorConfig:
    """The executor configuration the bot's ``settings`` ask for (``overrides`` win)."""
    data: dict[str, Any] = {
        "backend": settings.executor_backend,
        "devices": settings.executor_devices,  # None: every GPU, else one CPU worker
        "max_queue": settings.max_queue,
        "max_queued_per_user": settings.max_queued_per_user,
        "max_queued_per_guild": settings.max_queued_per_guild,
        "job_timeout_s": settings.job_timeout_s,
        "clip_timeout_max_s": settings.clip_timeout_max_s,
        "max_attachment_bytes": settings.max_attachment_bytes,
        "max_pixels": settings.max_pixels,
        "max_size": settings.max_size,
        "preload_models": (settings.default_model,),
        "cpu_share": settings.cpu_share,
        "ray_address": settings.ray_address,
        "ray_actors": settings.ray_actors,
        "ray_gpus_per_actor": settings.ray_gpus_per_actor,
    }
    data.update(overrides)
    return ExecutorConfig.model_validate(data)
