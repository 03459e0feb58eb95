"""The pipeline observer: turns events into telemetry records, with nothing said in them.

It sees every event (``Runtime.observers``) and, per turn, keeps only numbers
and labels: stage times (own work and queue time), outcome, first error as
``stage:kind``, skill name, whether the wake word started the turn, the
utterance's duration, and the process's RSS and CPU time. Transcript and reply
text are copied only while the user keeps transcripts; audio never.

The hub gives each satellite's pipeline an observer of its own, with the
satellite's ``area`` on every record, and tells it how the wake word's
arbitration went (:meth:`TurnObserver.arbitrated`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import psutil

from hearthvox.events import (
    Event,
    NoSpeech,
    Reply,
    SpeechEnded,
    SpeechStarted,
    StageError,
    Transcript,
    TurnDone,
    WakeDetected,
)
from hearthvox.telemetry.privacy import STAGES, area_label, label_or

Submit = Callable[[Literal["turn", "start"], dict[str, Any]], object]


def rss_mb(process: psutil.Process) -> float:
    return round(process.memory_info().rss / 2**20, 1)


def cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


@dataclass
class _Open:
    woke: bool
    cpu0_s: float
    audio_s: float | None = None
    error: str | None = None
    transcript: str | None = None
    reply_text: str | None = None
    arbitration: str | None = None
    arbitration_claims: int | None = None


class TurnObserver:
    """Call with every pipeline event; submits one ``turn`` record per finished turn."""

    def __init__(
        self,
        submit: Submit,
        *,
        keep_text: Callable[[], bool] = lambda: False,
        process: psutil.Process | None = None,
        area: str | None = None,
    ) -> None:
        self.submit = submit
        self.keep_text = keep_text
        self.process = process or psutil.Process()
        self.area = area_label(area) if area is not None else None
        """The satellite's area as recorded (a label: ``living room`` -> ``living_room``)."""
        self._turn: _Open | None = None

    def arbitrated(self, outcome: str, claims: int) -> None:
        """The open turn's wake word was arbitrated: ``outcome`` ``won`` or ``stood_down``
        among ``claims`` satellites that claimed it. No turn open: nothing to do."""
        if self._turn is not None:
            self._turn.arbitration = label_or(outcome)
            self._turn.arbitration_claims = int(claims)

    def __call__(self, event: Event) -> None:
        turn = self._turn
        match event:
            case WakeDetected():
                self._turn = _Open(woke=True, cpu0_s=cpu_s(self.process))
            case SpeechStarted(follow_up=True):
                self._turn = _Open(woke=False, cpu0_s=cpu_s(self.process))
            case NoSpeech(follow_up=True):
                self._turn = None
            case SpeechEnded() if turn is not None:
                turn.audio_s = round(len(event.audio) / event.rate_hz, 3)
            case StageError() if turn is not None and turn.error is None:
                turn.error = f"{label_or(event.stage)}:{label_or(event.kind)}"
            case Transcript() if turn is not None and self.keep_text():
                turn.transcript = event.text
            case Reply(announcement=False) if turn is not None and self.keep_text():
                turn.reply_text = event.text
            case TurnDone():
                self._turn = None
                self.submit("turn", self._record(event, turn))

    def _record(self, done: TurnDone, turn: _Open | None) -> dict[str, Any]:
        names = [s for s in STAGES if s in done.stages_ms or s in done.queue_ms]
        record: dict[str, Any] = {
            "ts": time.time(),
            "turn_id": done.turn_id,
            "outcome": done.outcome,
            "skill": label_or(done.skill) if done.skill is not None else None,
            "stages": {s: (done.stages_ms.get(s), done.queue_ms.get(s)) for s in names},
            "rss_mb": rss_mb(self.process),
        }
        if self.area is not None:
            record["area"] = self.area
        if done.llm is not None:  # counts and times only
            f = done.llm
            record |= {
                "llm_prompt_tokens": f.prompt_tokens,
                "llm_evaluated_tokens": f.evaluated_tokens,
                "llm_new_tokens": f.new_tokens,
                "llm_tokens_per_s": f.tokens_per_s,
                "llm_stop": label_or(f.stop),
                "llm_dropped_turns": f.dropped_turns,
                "llm_question_cut": f.question_cut,
                "llm_tokens_after_cancel": f.tokens_after_cancel,
                "llm_backend": label_or(f.backend),
            }
        if turn is not None:
            record |= {
                "woke": turn.woke,
                "audio_s": turn.audio_s,
                "error": turn.error,
                "cpu_ms": round((cpu_s(self.process) - turn.cpu0_s) * 1000.0, 1),
            }
            if turn.arbitration is not None:
                record["arbitration"] = turn.arbitration
                record["arbitration_claims"] = turn.arbitration_claims
            if turn.transcript is not None:
                record["transcript"] = turn.transcript
            if turn.reply_text is not None:
                record["reply_text"] = turn.reply_text
        return record


def turn_log_line(done: TurnDone) -> str:
    """The per-turn INFO line: outcome, skill and stage times; never any text."""
    parts = []
    for stage in [*STAGES, *sorted(set(done.stages_ms) - set(STAGES))]:
        if stage not in done.stages_ms:
            continue
        part = f"{stage} {done.stages_ms[stage]:.1f}"
        if stage in done.queue_ms:
            part += f" (queued {done.queue_ms[stage]:.1f})"
        parts.append(part)
    skill = label_or(done.skill) if done.skill is not None else "-"
    return f"turn {done.turn_id} {done.outcome} skill={skill} ms: {', '.join(parts) or 'none'}"
