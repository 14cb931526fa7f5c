"""The durable queue in the store: what a starting bot claims from the last process."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.store import DreamStatus
from bot.store.resume import GIVEN_UP_REASON, MAX_INTERRUPTIONS

ALICE, BOB = 1, 2
LATER = datetime.now(timezone.utc) + timedelta(minutes=15)


async def _dream(store, user=ALICE, **kwargs):
    return await store.create_dream(user, {}, reply_token="tok", reply_expires_at=LATER, upload_limit=8_000_000,
                                    channel_id=5, **kwargs)


async def test_the_interaction_is_kept_for_resuming(store):
    d = await _dream(store)
    got = await store.get_dream(d.id)
    assert got.reply_token == "tok" and got.reply_expires_at == LATER and got.upload_limit == 8_000_000
    assert got.interruptions == 0 and not got.undelivered
    assert "tok" not in repr(got)  # a secret: never in logs


async def test_claim_resumes_queued_and_running_in_order_and_counts_interruptions(store):
    running = await _dream(store)
    await store.mark_running(running.id)
    queued = await _dream(store, BOB)
    ended = await _dream(store)
    await store.mark_cancelled(ended.id)
    plan = await store.claim_unfinished()
    assert [d.id for d in plan.resume] == [running.id, queued.id] and not plan.given_up and not plan.undelivered
    again = await store.get_dream(running.id)
    assert again.status is DreamStatus.QUEUED and again.interruptions == 1 and again.started_at is None
    assert (await store.get_dream(queued.id)).interruptions == 0
    assert (await store.get_dream(ended.id)).reply_token is None  # an ended dream drops its token
    # claiming again (another start with nothing run meanwhile) changes nothing
    assert [d.id for d in (await store.claim_unfinished()).resume] == [running.id, queued.id]


async def test_a_dream_the_process_died_under_twice_is_given_up(store):
    d = await _dream(store)
    for _ in range(MAX_INTERRUPTIONS - 1):
        await store.mark_running(d.id)
        assert [x.id for x in (await store.claim_unfinished()).resume] == [d.id]
    await store.mark_running(d.id)
    plan = await store.claim_unfinished()
    assert not plan.resume and [x.id for x in plan.given_up] == [d.id]
    assert plan.given_up[0].reply_token == "tok"  # to tell the user
    failed = await store.get_dream(d.id)
    assert failed.status is DreamStatus.FAILED and failed.error == GIVEN_UP_REASON and failed.reply_token is None
    assert not (await store.claim_unfinished())


async def test_a_clean_hand_over_is_not_an_interruption(store):
    d = await _dream(store)
    for _ in range(MAX_INTERRUPTIONS + 1):
        await store.mark_running(d.id)
        assert await store.hand_over(d.id)
    assert [x.id for x in (await store.claim_unfinished()).resume] == [d.id]
    assert (await store.get_dream(d.id)).interruptions == 0
    await store.mark_cancelled(d.id)
    assert not await store.hand_over(d.id)


async def test_undelivered_results_are_claimed_until_delivered(store):
    d = await _dream(store)
    result = store.files.put(b"\x89PNG\r\n\x1a\nresult")
    await store.mark_done(d.id, result, width=1, height=1, seconds=0.1, undelivered=True)
    plan = await store.claim_unfinished()
    assert [x.id for x in plan.undelivered] == [d.id] and plan.undelivered[0].reply_token == "tok"
    await store.mark_delivered(d.id)
    got = await store.get_dream(d.id)
    assert not got.undelivered and got.reply_token is None and got.status is DreamStatus.DONE
    assert not (await store.claim_unfinished())
    # a result posted at once never waits for delivery
    e = await _dream(store)
    await store.mark_done(e.id, result, width=1, height=1, seconds=0.1)
    assert not (await store.get_dream(e.id)).undelivered
