"""The endpointer: turns per-frame speech probabilities into utterance boundaries.

Pure logic over audio time, no model: feed it one probability per VAD frame.
Rules (all in :class:`hearthvox.config.EndpointConfig`):

- speech starts once voiced frames add up to ``speech_start_ms`` without a gap
  longer than the hangover, where a run begins at a frame above threshold and
  goes on over frames above ``threshold - START_HYSTERESIS`` (as Silero VAD's
  own segmenter does: a short or quiet word, e.g. one spoken digit, rarely
  holds the full threshold for three frames);
- it ends after ``hangover_ms`` of frames below ``end_threshold`` (at least the
  threshold: a room's echo holds Silero's probability above 0.5 for a while after
  the words end), or at ``max_utterance_s``;
- while waiting for speech (after a wake word, or in a follow-up window) the
  window closes after ``no_speech_timeout_s`` (or the follow-up length).

With ``adaptive`` on, a ``pause`` boundary marks the first ``pause_ms`` of
silence after speech (the caller decodes what was said so far), and the caller
may then change the hangover with :meth:`Endpointer.set_hangover`, e.g. to
:func:`hangover_for` the speculative transcript: short after a complete
command, long after a filler or a trailing "and". Speech resuming restores the
configured hangover.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from hearthvox.config import EndpointConfig


@dataclass(frozen=True)
class Boundary:
    kind: Literal["start", "end", "timeout", "pause", "tail"]
    t_ms: float
    """Where the boundary lies in the stream: the speech start, the speech end
    (last speech frame's end; for a pause and its tail, too) or the moment the wait
    timed out."""
    reason: Literal["speech", "silence", "max_length", "no_speech"]


class Endpointer:
    def __init__(
        self, cfg: EndpointConfig, threshold: float, frame_ms: float, tail_ms: float = 0.0
    ) -> None:
        """``tail_ms``: a pause that lasts this long without the hangover ending it gives a
        ``tail`` boundary, once (the listener decodes the pause again with all the audio
        it keeps after the speech); 0: never."""
        self.cfg = cfg
        self.tail_ms = tail_ms
        self.threshold = threshold
        self.end_threshold = max(threshold, cfg.end_threshold)
        """What a frame needs to count as speech once speech has started."""
        self.frame_ms = frame_ms
        self.active = False
        self.in_speech = False
        self._deadline_ms = 0.0
        self._settle_until_ms: float | None = None
        self._run_start_ms: float | None = None
        self._voiced_ms = 0.0
        self._last_voiced_end_ms = 0.0
        self.speech_start_ms = 0.0
        self.hangover_ms: float = float(cfg.hangover_ms)
        self._paused = False
        self._tailed = False
        self._longest_gap_ms = 0.0

    @property
    def last_voiced_end_ms(self) -> float:
        return self._last_voiced_end_ms

    def set_hangover(self, hangover_ms: float) -> None:
        """Use this hangover until speech resumes (then the configured one again); never
        shorter than the longest pause this utterance already had, plus a margin."""
        self.hangover_ms = max(hangover_ms, self._longest_gap_ms + _GAP_MARGIN_MS)

    def arm(self, now_ms: float, timeout_s: float, settle_ms: float = 0.0) -> None:
        """Start waiting for speech at ``now_ms``; give up after ``timeout_s``.

        ``settle_ms``: voiced frames right after arming (the tail of the wake
        phrase) are ignored until the first unvoiced frame or for this long.
        """
        self._settle_until_ms = now_ms + settle_ms if settle_ms > 0 else None
        self.active = True
        self.in_speech = False
        self._deadline_ms = now_ms + timeout_s * 1000.0
        self._run_start_ms = None
        self._voiced_ms = 0.0
        self.hangover_ms = float(self.cfg.hangover_ms)
        self._paused = False
        self._tailed = False
        self._longest_gap_ms = 0.0

    def disarm(self) -> None:
        self.active = False
        self.in_speech = False

    def push(self, prob: float, frame_start_ms: float) -> Boundary | None:
        """One VAD frame starting at ``frame_start_ms``; returns a boundary if one was crossed."""
        if not self.active:
            return None
        frame_end = frame_start_ms + self.frame_ms
        voiced = prob >= (self.end_threshold if self.in_speech else self.threshold)
        if not self.in_speech and not voiced and self._run_start_ms is not None:
            voiced = prob >= self.threshold - START_HYSTERESIS
        if self._settle_until_ms is not None:
            if voiced and frame_start_ms < self._settle_until_ms:
                return None
            self._settle_until_ms = None
        if not self.in_speech:
            if voiced:
                if self._run_start_ms is None:
                    self._run_start_ms = frame_start_ms
                    self._voiced_ms = 0.0
                self._voiced_ms += self.frame_ms
                self._last_voiced_end_ms = frame_end
                if self._voiced_ms >= self.cfg.speech_start_ms:
                    self.in_speech = True
                    self.speech_start_ms = self._run_start_ms
                    return Boundary("start", self.speech_start_ms, "speech")
            elif (
                self._run_start_ms is not None
                and frame_end - self._last_voiced_end_ms > self.cfg.hangover_ms
            ):
                self._run_start_ms = None
            if frame_end >= self._deadline_ms and self._run_start_ms is None:
                self.active = False
                return Boundary("timeout", frame_end, "no_speech")
            return None
        if voiced:
            gap_ms = frame_start_ms - self._last_voiced_end_ms
            self._longest_gap_ms = max(self._longest_gap_ms, gap_ms)
            self._last_voiced_end_ms = frame_end
            if self._paused:
                self._paused = self._tailed = False
                self.hangover_ms = float(self.cfg.hangover_ms)
        if frame_end - self.speech_start_ms >= self.cfg.max_utterance_s * 1000.0:
            self.disarm()
            return Boundary("end", frame_end, "max_length")
        silent_ms = frame_end - self._last_voiced_end_ms
        if silent_ms >= self.hangover_ms:
            self.disarm()
            return Boundary("end", self._last_voiced_end_ms, "silence")
        if self.cfg.adaptive and not self._paused and silent_ms >= self.cfg.pause_ms:
            self._paused = True
            return Boundary("pause", self._last_voiced_end_ms, "silence")
        if self._paused and not self._tailed and 0 < self.tail_ms <= silent_ms:
            self._tailed = True
            return Boundary("tail", self._last_voiced_end_ms, "silence")
        return None


START_HYSTERESIS = 0.15
"""Below the threshold by this much, a frame still continues a run that a frame above
it began (dev split: three spoken digits of the eval's clean slice never started)."""
_GAP_MARGIN_MS = 64.0  # a pause must outlast the longest one before it by this much
_FILLERS = frozenset("um umm uh uhh er erm hmm mm like".split())
_TRAILING = frozenset(
    """and or but so then to for with of the a an in on at my your our is are was from by
    about because until than that if when into onto plus minus""".split()
)
_WORD = re.compile(r"[a-z']+")


def hangover_for(text: str, cfg: EndpointConfig, command: bool = False) -> float:
    """The hangover a speculative transcript calls for.

    Long after a filler or a word that needs a continuation ("and", "for", "the"),
    or an open ending (``...``, ``,``); short after a finished sentence (Whisper ends
    it with ``.``, ``?`` or ``!``), and shorter still when that sentence is a whole
    request a skill answers (``command``: the caller asks the skills,
    :meth:`hearthvox.skills.SkillRouter.complete`); the configured one otherwise (no
    text, no ending). A read sentence or a spelled code keeps the short hangover: Whisper
    also ends the words before a pause inside them with ``.``.
    """
    stripped = text.strip()
    words = _WORD.findall(stripped.lower())
    if not words:
        return float(cfg.hangover_ms)
    if words[-1] in _FILLERS or words[-1] in _TRAILING or stripped.endswith(("...", ",", "-")):
        return float(cfg.long_hangover_ms)
    if stripped.endswith((".", "?", "!")):
        return float(cfg.command_hangover_ms if command else cfg.short_hangover_ms)
    return float(cfg.hangover_ms)


def guess_hangover(
    text: str | None, looped: str | None, cfg: EndpointConfig, complete: Callable[[str], bool]
) -> float | None:
    """The hangover a pause's guess calls for, or None for no guess (keep the configured
    one): :func:`hangover_for` its text, with ``complete`` (the skills) saying whether it
    is a whole request; a guess with no text whose decode looped on one word (``Stop
    Stop Stop``, :attr:`hearthvox.engines.asr.AsrResult.looped`) gets the command
    hangover when that word is a whole request."""
    if text is not None:
        return hangover_for(text, cfg, complete(text))
    if looped is not None and complete(looped):
        return float(cfg.command_hangover_ms)
    return None
