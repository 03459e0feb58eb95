"""The tuning sweeps' arguments: whole milliseconds, or a probability for the end threshold."""

from __future__ import annotations

import pytest

from hearthvox.config import EndpointConfig
from hearthvox.evaluation.tune import _sweeps, endpoint_variants


def test_sweeps_take_milliseconds_and_the_end_threshold() -> None:
    found = _sweeps(["command_hangover_ms=128,256", "end_threshold=0.5,0.8"])
    assert found == {"command_hangover_ms": (128, 256), "end_threshold": (0.5, 0.8)}
    names = [name for name, _ in endpoint_variants(EndpointConfig(), found)]
    assert names == [
        "configured",
        "command_hangover_ms=128",
        "command_hangover_ms=256",
        "end_threshold=0.5",
        "end_threshold=0.8",
    ]


@pytest.mark.parametrize(
    "bad", ["end_threshold=1.5", "end_threshold=", "pause_ms=0", "pause_ms=0.5", "nope=1"]
)
def test_a_bad_sweep_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        _sweeps([bad])
