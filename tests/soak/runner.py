"""The soak: ``hearthvox run`` as a real daemon on a private PulseAudio, for a long time.

The room (``hv``) hears a request about every 20 s (time, date, a timer that
rings, a request in noise, a real person's "stop", a long reply cut short by
"hey jarvis, stop"), with silence, noise and speech without the wake word in
between. On its own schedule (:mod:`.plan`) the soak reloads the config with
SIGHUP, restarts the sound server, and once kills the daemon with SIGKILL and
starts it again, as ``Restart=on-failure`` would; any other exit is a crash, and
the daemon is started again too. A thread samples the daemon's RSS, CPU, fds and
threads. Every pipeline event comes from ``run --json``.
"""

from __future__ import annotations

import queue
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.audio_path.conftest import Pulse
from tests.audio_path.daemon import Daemon, Record
from tests.audio_path.test_bargein import LONG_REPLY
from tests.soak.plan import Plan
from tests.soak.sampler import Sampler
from tests.soak.sounds import Request, Sounds, make_sounds

READY = "ready: listening on the microphone"
START_LIMIT_S = 300.0
"""A (re)start may load the models this long on a loaded machine."""
TURN_LIMIT_S = 90.0
"""A turn not done this long after its request ended is lost."""
ANSWERED = ("answered", "interrupted")
RING_SPOKEN_S = 4.0
"""After the ring's first audio, "Your 6 second timer is done." has been spoken (and its
echo tail passed) within this."""


@dataclass
class Turn:
    kind: str
    sent_s: float
    expected_skill: str
    done: Record | None = None
    done_s: float | None = None

    @property
    def answered(self) -> bool:
        return self.done is not None and self.done["outcome"] in ANSWERED

    def as_dict(self) -> dict[str, Any]:
        d = self.done or {}
        return {
            "kind": self.kind,
            "sent_s": round(self.sent_s, 1),
            "done_s": None if self.done_s is None else round(self.done_s, 1),
            "expected_skill": self.expected_skill,
            "outcome": d.get("outcome"),
            "skill": d.get("skill"),
            "eos_to_first_audio_ms": d.get("stages_ms", {}).get("end_of_speech_to_first_audio"),
        }


@dataclass
class Log:
    """What happened, for the report."""

    turns: list[Turn] = field(default_factory=list)
    unprompted: list[Record] = field(default_factory=list)
    """turn_done events with no request waiting (a false wake)."""
    wakes: int = 0
    rings: int = 0
    errors: list[Record] = field(default_factory=list)
    reloads: list[dict[str, Any]] = field(default_factory=list)
    sound_restarts: list[dict[str, Any]] = field(default_factory=list)
    kills: list[dict[str, Any]] = field(default_factory=list)
    crashes: list[dict[str, Any]] = field(default_factory=list)
    barge_ins: list[dict[str, Any]] = field(default_factory=list)
    final_exit: int | None = None


def write_config(path: Path, reload: int) -> None:
    """The soak's config before its ``reload``-th reload (0: at the start). Odd reloads
    change only the fallback reply (models kept), even ones the VAD and wake thresholds
    and the ASR beam too (the loaded engines retuned: no model loaded again)."""
    other = (reload // 2) % 2 == 1
    reply = LONG_REPLY if reload % 2 == 0 else LONG_REPLY.replace("small", "little")
    path.write_text(
        f'[skills]\nfallback_reply = "{reply}"\n'
        "[llm]\nenabled = false\n"  # the fallback's long reply is the barge-in's target
        "[endpoint]\nfollow_up = false\n"
        f"[vad]\nthreshold = {0.49 if other else 0.5}\n"
        f"[wake]\nthreshold = {0.49 if other else 0.5}\n"
        f"[asr]\nbeam_size = {2 if other else 1}\n"
    )


class Soak:
    def __init__(self, plan: Plan, out: Path, corpus: Path, pulse: Pulse | None = None) -> None:
        """``pulse``: a sound server already running (left running at the end); by
        default the soak starts its own under ``out`` and stops it at the end."""
        self.plan = plan
        self.out = out
        self.home = out / "home"
        self.config = out / "config.toml"
        self.own_pulse = pulse is None
        self.pulse = pulse or Pulse(out / "pulse")
        self.pulse.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.sounds: Sounds = make_sounds(out / "sounds", corpus, plan.timer_s)
        self.log = Log()
        self.t0 = time.monotonic()
        self.life = -1
        self.started = 0.0
        self.daemon: Daemon | None = None
        self.waiting: Turn | None = None
        self.sampler = Sampler(plan.sample_every_s, self.t0, self._target)
        self._variant = 0
        self._stderr: list[str] = []
        self._first_audio = 0
        """``tts_first_audio`` events taken so far (one may come while a request still plays)."""

    # -- clock and daemon ------------------------------------------------------------

    def now(self) -> float:
        return time.monotonic() - self.t0

    def say(self, what: str) -> None:
        """One progress line on stderr."""
        print(f"soak [{self.now():7.1f} s] {what}", file=sys.stderr, flush=True)

    def _target(self) -> tuple[int, int, float] | None:
        d = self.daemon
        if d is None or d.proc.poll() is not None:
            return None
        return self.life, d.proc.pid, self.started

    def _start_daemon(self) -> None:
        self.daemon = Daemon(
            self.pulse,
            self.home,
            "--input-device",
            "pulse",
            "--output-device",
            "pulse",
            "--config",
            str(self.config),
        )
        self.life += 1
        self.started = time.monotonic()
        self.daemon.wait_log(READY, START_LIMIT_S)

    def _retire(self, d: Daemon) -> None:
        """Keep a finished daemon's stderr for the run's log file."""
        self._stderr += [f"--- daemon {self.life} ---", *d.stderr]

    @property
    def d(self) -> Daemon:
        assert self.daemon is not None
        return self.daemon

    # -- events ----------------------------------------------------------------------

    def _take(self, event: Record) -> None:
        match event["event"]:
            case "wake":
                self.log.wakes += 1
            case "tts_first_audio":
                self._first_audio += 1
            case "reply" if event.get("announcement"):
                self.log.rings += 1
            case "error":
                self.log.errors.append({"t_s": round(self.now(), 1), **event})
            case "turn_done":
                if self.waiting is not None and self.waiting.done is None:
                    self.waiting.done, self.waiting.done_s = event, self.now()
                else:
                    self.log.unprompted.append({"t_s": round(self.now(), 1), **event})

    def _check_alive(self) -> None:
        """A daemon that exited on its own is a crash: log it, start another."""
        d = self.d
        if d.proc.poll() is None:
            return
        self.log.crashes.append(
            {
                "t_s": round(self.now(), 1),
                "life": self.life,
                "exit": d.proc.returncode,
                "stderr": d.stderr[-20:],
            }
        )
        self._retire(d)
        self.say(f"CRASH: the daemon exited with status {d.proc.returncode}; starting it again")
        self._start_daemon()

    def pump(self, seconds: float, until: str | None = None) -> Record | None:
        """Take events for up to ``seconds``; return early with the first ``until`` event."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            try:
                event = self.d.events.get(timeout=max(0.0, min(left, 1.0)))
            except queue.Empty:
                self._check_alive()
                if left <= 0:
                    return None
                continue
            self._take(event)
            if until is not None and event["event"] == until:
                return event

    def _drain_log(self) -> None:
        while True:
            try:
                self.d.log.get_nowait()
            except queue.Empty:
                return

    # -- what the room hears ---------------------------------------------------------

    def play(self, path: Path) -> None:
        player = self.pulse.player(path)
        while player.poll() is None:
            self.pump(0.2)
        player.wait(timeout=10)

    def request(self, req: Request) -> Turn:
        """Play one request and wait for its turn to be done."""
        self.pump(0)
        turn = Turn(req.kind, self.now(), req.skill)
        self.log.turns.append(turn)
        self.waiting = turn
        self.play(req.path)
        deadline = time.monotonic() + TURN_LIMIT_S
        while turn.done is None and time.monotonic() < deadline:
            self.pump(deadline - time.monotonic(), until="turn_done")
        self.waiting = None
        self.say(f"{turn.kind}: {turn.as_dict()['outcome']} by {turn.as_dict()['skill']}")
        return turn

    def barge_in(self) -> None:
        """The long reply, cut short by "hey jarvis, stop" once it is heard."""
        story = Turn("story", self.now(), "fallback")
        self.log.turns.append(story)
        self.waiting = story
        before = self._first_audio
        self.play(self.sounds.story.path)
        # the reply may start while the request's trailing silence still plays
        if self._first_audio == before:
            self.pump(TURN_LIMIT_S, until="tts_first_audio")
        if self._first_audio > before:
            self.pump(1.0)  # a second of the reply is heard
            stop = Turn("barge_stop", self.now(), "stop")
            self.log.turns.append(stop)
            player = self.pulse.player(self.sounds.barge_stop.path)
            deadline = time.monotonic() + TURN_LIMIT_S
            while story.done is None and time.monotonic() < deadline:
                self.pump(1.0, until="turn_done")
            self.waiting = stop
            while player.poll() is None:
                self.pump(0.2)
            while stop.done is None and time.monotonic() < deadline:
                self.pump(deadline - time.monotonic(), until="turn_done")
        else:
            self.pump(TURN_LIMIT_S, until="turn_done")
        self.waiting = None
        self.log.barge_ins.append(
            {
                "t_s": round(story.sent_s, 1),
                "story": story.as_dict(),
                "interrupted": story.done is not None and story.done["outcome"] == "interrupted",
            }
        )
        self.say(f"barge-in: story {story.as_dict()['outcome']}")

    # -- faults ----------------------------------------------------------------------

    def reload(self) -> None:
        self._variant += 1
        write_config(self.config, self._variant)
        self.pump(0)
        self._drain_log()
        sent = time.monotonic()
        self.d.proc.send_signal(signal.SIGHUP)
        line = self._wait_log(("config reloaded", "reload failed"), START_LIMIT_S)
        self.log.reloads.append(
            {
                "t_s": round(self.now(), 1),
                "ok": line is not None and "reloaded" in line,
                "took_s": round(time.monotonic() - sent, 1),
                "line": line,
            }
        )
        self.say(f"SIGHUP: {line}")

    def restart_sound_server(self) -> None:
        self.pump(0)
        self._drain_log()
        self.pulse.kill()
        lost = self._wait_log(("microphone",), 30)
        self.pulse.start()
        back_from = time.monotonic()
        back = self._wait_log(("microphone back",), 60)
        self.log.sound_restarts.append(
            {
                "t_s": round(self.now(), 1),
                "lost_seen": lost is not None,
                "back": back is not None,
                "resumed_s": round(time.monotonic() - back_from, 1),
            }
        )
        self.say(f"sound server restarted: {back}")

    def kill(self) -> None:
        self.pump(0)
        d = self.d
        d.proc.kill()
        d.proc.wait(timeout=30)
        self._retire(d)
        begun = time.monotonic()
        self._start_daemon()
        self.log.kills.append(
            {
                "t_s": round(self.now(), 1),
                "exit": d.proc.returncode,
                "restart_s": round(time.monotonic() - begun, 1),
            }
        )
        self.say(f"kill -9, started again in {self.log.kills[-1]['restart_s']} s")

    def _wait_log(self, texts: tuple[str, ...], timeout_s: float) -> str | None:
        """The first stderr line holding one of ``texts``, taking events meanwhile."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.d.log.get(timeout=0.2)
            except queue.Empty:
                self.pump(0)
                continue
            if any(t in line for t in texts):
                return line
        return None

    # -- the run ---------------------------------------------------------------------

    def run(self) -> Log:
        write_config(self.config, 0)
        if self.own_pulse:
            self.pulse.start()
        try:
            self._start_daemon()
            self.t0 = self.sampler.t0 = time.monotonic()
            self.sampler.take()
            self.sampler.start()
            self._schedule()
            self.pump(self.plan.timer_s + 5.0)  # the last timer rings
        finally:
            self.sampler.stop()
            if self.daemon is not None:
                self.log.final_exit = self.daemon.stop()
                self._retire(self.daemon)
            if self.own_pulse:
                self.pulse.kill()
            (self.out / "daemon.log").write_text("\n".join(self._stderr) + "\n")
        return self.log

    def _schedule(self) -> None:
        """A request slot every ``request_every_s``; faults when due, between slots."""
        p = self.plan
        next_reload, next_restart, killed = p.reload_every_s, p.restart_every_s, False
        steps = (self._time, self._date, self._timer, self._noisy, self.barge_in, self._stop)
        k = 0
        while (slot := self.now()) < p.duration_s:
            if slot >= next_reload:
                self.reload()
                next_reload += p.reload_every_s
            if self.now() >= next_restart:
                self.restart_sound_server()
                next_restart += p.restart_every_s
            if not killed and self.now() >= p.kill_at_s:
                self.kill()
                killed = True
            slot = self.now()
            steps[k % len(steps)]()
            k += 1
            if k % 2 == 0 and self.now() < slot + p.request_every_s - 12:
                self.pump(3.0)
                self.play(self.sounds.background[(k // 2) % len(self.sounds.background)])
            self.pump(max(0.0, slot + p.request_every_s - self.now()))

    def _time(self) -> None:
        self.request(self.sounds.time)

    def _date(self) -> None:
        self.request(self.sounds.date)

    def _timer(self) -> None:
        turn = self.request(self.sounds.timer)
        if turn.answered and turn.done is not None and turn.done.get("skill") == "timer":
            self._wait_for_ring()

    def _wait_for_ring(self) -> None:
        """The timer rings before the next request. Under load the ring can fall late, and
        a request spoken over its announcement is muted (half duplex; in noise the wake
        word misses barge-in's stricter threshold): lost by the soak's timing, not the
        daemon's (the 50-minute run lost 4 of 18 requests in noise, each just after a
        timer)."""
        rings = self.log.rings
        deadline = time.monotonic() + self.plan.timer_s + TURN_LIMIT_S
        while self.log.rings == rings and (left := deadline - time.monotonic()) > 0:
            self.pump(left, until="reply")
        if self.log.rings > rings:
            self.pump(TURN_LIMIT_S, until="tts_first_audio")
            self.pump(RING_SPOKEN_S)

    def _noisy(self) -> None:
        self.request(self.sounds.noisy_time)

    def _stop(self) -> None:
        self.request(self.sounds.real_stop)
