"""The progress bar (files, audio hours, real-time factor, ETA) and the end-of-run summary."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type information


def hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class Tally:
    files: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    audio_s: float = 0.0
    """Audio transcribed in this run (skipped files not counted)."""
    started: float = field(default_factory=time.perf_counter)

    @property
    def wall_s(self) -> float:
        return time.perf_counter() - self.started

    @property
    def speed(self) -> float:
        """Audio seconds per wall second (the inverse of the real-time factor)."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0

    def summary(self) -> str:
        parts = [f"{self.done} transcribed", f"{self.skipped} already done"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        return (
            f"{self.files} file(s): " + ", ".join(parts) + f"; {hms(self.audio_s)} of audio in "
            f"{hms(self.wall_s)} ({self.speed:.1f}x real time)"
        )


class Progress:
    """A tqdm bar over audio seconds on stderr; silent when *enabled* is False."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.tally = Tally()
        self._bar: Any = None
        self._enabled = enabled
        self._stream = stream or sys.stderr

    def start(self, files: int, audio_s: float) -> None:
        self.tally = Tally(files=files)
        if self._enabled:
            self._bar = tqdm(
                total=round(audio_s, 1) or None,
                unit="audio-s",
                file=self._stream,
                dynamic_ncols=True,
                bar_format="{desc} {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} audio-s "
                "[{elapsed}<{remaining}{postfix}]",
            )
            self._show()

    def _show(self, note: str = "") -> None:
        if self._bar is None:
            return
        t = self.tally
        finished = t.done + t.skipped + t.failed
        self._bar.set_description_str(f"files {finished}/{t.files}", refresh=False)
        extra = f", {note}" if note else ""
        self._bar.set_postfix_str(
            f"{t.audio_s / 3600:.2f} h audio, {t.speed:.1f}x real time{extra}", refresh=True
        )

    def note(self, text: str) -> None:
        self._show(text)

    def say(self, text: str) -> None:
        """A line on stderr, bar or not (above the bar when there is one)."""
        line = f"hearthvox: {text}"
        if self._bar is not None:
            self._bar.write(line, file=self._stream)
        else:
            print(line, file=self._stream, flush=True)

    def advance(self, status: str, audio_s: float, expected_s: float) -> None:
        t = self.tally
        if status == "done":
            t.done += 1
            t.audio_s += audio_s
        elif status == "skipped":
            t.skipped += 1
        else:
            t.failed += 1
        if self._bar is not None:
            self._bar.update(expected_s)
            self._show()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
