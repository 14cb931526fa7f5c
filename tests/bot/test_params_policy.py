"""The params policy keeps what the user set apart from what the bot fills in (issue 11 §1),
on a real store (SQLite through the migrations)."""

from __future__ import annotations

import pytest

from bot.params_policy import ParamsPolicy
from bot.replies import UserError
from dream_core.params import DreamParams

from .conftest import make_settings

ALICE = 1


@pytest.fixture
async def policy_for(tmp_path):
    from bot.store import Store

    stores = []

    async def make(**settings):
        s = make_settings(tmp_path, **settings)
        store = await Store.open(s)
        stores.append(store)
        return ParamsPolicy(s, store), store

    yield make
    for store in stores:
        await store.close()


async def test_preset_strength_equal_to_the_model_default_beats_the_bots_default(policy_for):
    """DREAMBOT_DEFAULT_PARAMS={"strength": "high"} and a preset saved with strength=medium
    dream at medium (the old store dropped 'medium' as 'equal to the default')."""
    policy, store = await policy_for(default_params={"strength": "high"})
    saved = policy.preset_from_options({"strength": "medium", "layer": None})
    await policy.save_preset(ALICE, "calm", saved)
    assert (await store.get_preset(ALICE, "calm")).params_data == {"strength": "medium"}
    params = await policy.build_params(ALICE, preset="calm")
    assert params.strength == "medium" and params.resolved().octaves == 3
    plain = await policy.build_params(ALICE)
    assert plain.strength == "high" and plain.explicit() == {}  # the bot's default: filled in, not set


async def test_dreams_record_only_what_was_set_and_not_the_clamp(policy_for):
    policy, store = await policy_for(default_params={"octaves": 1, "jitter": 4}, max_size=64)
    params = await policy.build_params(ALICE, options={"layer": "mixed3:7", "strength": "low", "seed": None})
    assert params.max_size == 64 and params.octaves == 1 and params.jitter == 4  # what runs
    assert params.explicit() == {"layer": "mixed3:7", "strength": "low"}  # what is recorded
    dream = await store.create_dream(ALICE, params)
    assert dream.params_data == {"layer": "mixed3:7", "strength": "low"}
    ran = params.resolved()  # as the executor resolves it when the dream runs
    done = await store.mark_done(
        dream.id, store.files.put(b"\x89PNG\r\n\x1a\nx"), width=64, height=48, seconds=1.0, params=ran
    )
    assert done.params_data == {"layer": "mixed3:7", "strength": "low", "seed": ran.seed}
    # "Dream again": the same settings, a new seed, today's defaults and caps under them
    again = policy.again_params(done.params)
    assert again.explicit() == {"layer": "mixed3:7", "strength": "low"} and again.max_size == 64
    # "Save as preset" from the dream: what was set, without the seed
    info, _ = await policy.save_preset(ALICE, "from-dream", done.params)
    assert info.params_data == {"layer": "mixed3:7", "strength": "low"}


async def test_bad_settings_are_one_user_error(policy_for):
    policy, _ = await policy_for()
    with pytest.raises(UserError, match=r"layer: .*mixed9.*/layers"):
        await policy.build_params(ALICE, options={"layer": "mixed9"})
    with pytest.raises(UserError, match="unknown model 'alexnet'"):
        await policy.build_params(ALICE, options={"model": "alexnet"})
    with pytest.raises(UserError, match="zoom_frames"):
        await policy.build_params(ALICE, options={"zoom_frames": 49})


def test_a_validated_params_is_trusted_downstream():
    p = DreamParams(model="googlenet", layer="mixed4c:97")
    assert [(t.layer, t.channel) for t in p.targets] == [("inception4c", 97)]
    assert DreamParams.trusted(p.explicit()) == p
