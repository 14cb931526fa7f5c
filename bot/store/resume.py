"""The durable queue: what a starting bot does with the dreams the last process left.

Every dream the bot admits is a row (``queued``/``running``) with everything needed to
run it again (params, input, guide, the interaction that asked for it). When a bot
process ends — a deploy's SIGTERM after its grace period, ``kill -9``, an OOM kill — the
next one claims those rows (:meth:`ResumeOps.claim_unfinished`) and runs them again in
their original order:

* ``queued`` rows, and ``running`` ones handed over on a clean shutdown
  (:meth:`ResumeOps.hand_over`), are resumed as they are;
* a row still ``running`` means the process died while running it: it counts one
  *interruption*, and at :data:`MAX_INTERRUPTIONS` in a row (a poison input, an OOM)
  it is failed with :data:`GIVEN_UP_REASON` instead of crash-looping the bot;
* ``done`` rows whose result never reached the user (Discord was down, or the bot
  died in between) are delivered again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import or_, select

from bot.store.base import StoreBase, clip
from bot.store.models import ERROR_MAX, Dream, DreamStatus, utcnow
from bot.store.records import DreamInfo, dream_info

log = logging.getLogger(__name__)

#: a dream the bot process died running this many times in a row is not tried again
MAX_INTERRUPTIONS = 2
GIVEN_UP_REASON = (
    "The dream service stopped twice while running this dream, so I won't try it a third time. "
    "Try a smaller picture or lighter settings."
)


@dataclass(frozen=True)
class ResumePlan:
    """What the last bot process left, each list in the order the dreams were asked for."""

    resume: list[DreamInfo] = field(default_factory=list)  # queued again: submit them
    given_up: list[DreamInfo] = field(default_factory=list)  # failed now: tell their users
    undelivered: list[DreamInfo] = field(default_factory=list)  # done: post their results

    def __len__(self) -> int:
        return len(self.resume) + len(self.given_up) + len(self.undelivered)


class ResumeOps(StoreBase):
    async def claim_unfinished(self, *, max_interruptions: int = MAX_INTERRUPTIONS) -> ResumePlan:
        """At start-up, in one transaction: count an interruption for every dream left
        ``running`` (the process died under it), fail those that reached
        ``max_interruptions``, put the rest back to ``queued``; return the plan."""
        plan = ResumePlan()
        async with self.db.write() as s:
            rows = await s.scalars(
                select(Dream)
                .where(or_(Dream.status.in_((DreamStatus.QUEUED.value, DreamStatus.RUNNING.value)),
                           Dream.undelivered.is_(True)))
                .order_by(Dream.id)
            )
            now = utcnow()
            for dream in rows:
                if dream.status == DreamStatus.DONE.value:
                    plan.undelivered.append(dream_info(dream))
                    continue
                if dream.status == DreamStatus.RUNNING.value:
                    dream.interruptions = (dream.interruptions or 0) + 1
                    dream.started_at = None
                    if dream.interruptions >= max_interruptions:
                        dream.status = DreamStatus.FAILED.value
                        dream.error = clip(GIVEN_UP_REASON, ERROR_MAX)
                        dream.finished_at = now
                        plan.given_up.append(dream_info(dream))  # keeps the token to tell the user
                        dream.reply_token = None
                        continue
                    dream.status = DreamStatus.QUEUED.value
                if dream.status == DreamStatus.QUEUED.value:
                    plan.resume.append(dream_info(dream))
        if plan:
            log.warning(
                "resuming %d dream(s) the last bot process left, delivering %d result(s); "
                "%d interrupted twice and not tried again",
                len(plan.resume), len(plan.undelivered), len(plan.given_up),
            )
        return plan

    async def hand_over(self, dream_id: int) -> bool:
        """A clean shutdown hands an unfinished dream to the next process: back to
        ``queued`` (not an interruption). False when it had already ended."""
        async with self.db.write() as s:
            dream = await s.get(Dream, dream_id, with_for_update=True)
            if dream is None or dream.status not in (DreamStatus.QUEUED.value, DreamStatus.RUNNING.value):
                return False
            dream.status = DreamStatus.QUEUED.value
            dream.started_at = None
            return True

    async def mark_delivered(self, dream_id: int) -> None:
        """The result is in the user's message: nothing left to deliver, the token goes."""
        async with self.db.write() as s:
            dream = await s.get(Dream, dream_id)
            if dream is not None:
                dream.undelivered = False
                dream.reply_token = None


__all__ = ["GIVEN_UP_REASON", "MAX_INTERRUPTIONS", "ResumeOps", "ResumePlan"]
