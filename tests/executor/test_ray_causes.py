"""What the Ray driver makes of a failed call to an actor: its node lost, or its own connection."""

from __future__ import annotations

import pytest

ray_exceptions = pytest.importorskip("ray.exceptions")

from dream_core.executor.ray_driver import CLUSTER_LOST, _lost_cause  # noqa: E402


def test_an_unreachable_actor_is_its_node_lost_not_the_drivers_connection():
    """A node killed under a running actor: Ray reports the actor unavailable, quoting the RPC
    error ("Connection reset by peer"). Read as the driver's own connection being lost, the
    driver restarted and the job's retry on the other node counted as a second loss."""
    err = ray_exceptions.ActorUnavailableError(
        "The actor is temporarily unavailable: RpcError: RPC error: recvmsg:Connection reset by peer rpc_code: 14.",
        None,
    )
    assert _lost_cause(err) == "its Ray node was lost"
    assert _lost_cause(ConnectionError("ray client connection lost")) == CLUSTER_LOST
    assert _lost_cause(ray_exceptions.GetTimeoutError("timed out")) == "its Ray node stopped responding"
