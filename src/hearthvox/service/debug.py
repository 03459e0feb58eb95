"""A test hook that hangs a stage, so the watchdog can be seen to work (docs/service.md).

``HEARTHVOX_DEBUG_HANG=asr``: the first transcription never returns (a stuck
call on the ASR engine's thread). ``HEARTHVOX_DEBUG_HANG=wake``: the first wake
word detection never returns (a stuck call on the wake engine's thread).
``HEARTHVOX_DEBUG_HANG=loop``: the first wake word blocks the event loop forever
(a stuck pipeline). Read only by
``hearthvox run``; it says so on stderr when it is armed. Never set it on a
device that is meant to answer.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from hearthvox.errors import ConfigError
from hearthvox.events import Event, WakeDetected
from hearthvox.runtime import Runtime

HANG_ENV = "HEARTHVOX_DEBUG_HANG"
STAGES = ("asr", "wake", "loop")

log = logging.getLogger(__name__)


def _hang_forever() -> None:
    threading.Event().wait()


def _hanging(fn: Callable[..., Any], when: Callable[[Any], bool]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def hung(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        if when(result):
            log.warning("%s: %s hangs now", HANG_ENV, getattr(fn, "__qualname__", fn))
            _hang_forever()
        return result

    return hung


def install_debug_hooks(runtime: Runtime, environ: Mapping[str, str] | None = None) -> str | None:
    """Arm the hook ``HEARTHVOX_DEBUG_HANG`` names; returns the stage, or None when unset."""
    stage = (os.environ if environ is None else environ).get(HANG_ENV, "")
    if not stage:
        return None
    engines = runtime.engines
    if stage == "asr":
        hook = _hanging(engines.asr.transcribe, lambda result: True)
        setattr(engines.asr, "transcribe", hook)  # noqa: B010 - mypy refuses assigning to a method
    elif stage == "wake":
        hook = _hanging(engines.wake.detect, lambda hit: hit is not None)
        setattr(engines.wake, "detect", hook)  # noqa: B010 - mypy refuses assigning to a method
    elif stage == "loop":

        def block_the_loop(event: Event) -> None:  # an observer runs on the event loop
            if isinstance(event, WakeDetected):
                log.warning("%s: the event loop hangs now", HANG_ENV)
                _hang_forever()

        runtime.observers.append(block_the_loop)
    else:
        raise ConfigError(f"{HANG_ENV}={stage!r}: must be one of {', '.join(STAGES)}")
    log.warning("%s=%s: the %s stage will hang (a test hook)", HANG_ENV, stage, stage)
    return stage
