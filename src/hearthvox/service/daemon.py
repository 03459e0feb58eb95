"""``hearthvox run`` as a long-running service: ready, watchdog, reload, drain.

:class:`Daemon` runs the pipeline over a :class:`~hearthvox.service.feed.Feed`:

* ``READY=1`` once the loop runs (the caller has loaded the models, passed the
  health check and opened the input before it builds the daemon);
* the watchdog pings every half ``WATCHDOG_USEC`` while the audio, pipeline and
  engine workers live (:mod:`.heartbeat`, :mod:`.watchdog`);
* SIGHUP re-reads the config: ``RELOADING=1`` with ``MONOTONIC_USEC``, then
  ``READY=1``; a bad config is reported and the old one kept; a good one is
  applied between turns (:mod:`.reload`): the pipeline is drained
  (:meth:`~hearthvox.pipeline.runner.Pipeline.drain`: the turn in flight and its
  follow-up window finish, then the run ends), the new config applied, and the
  next run starts at the very chunk after the last one heard (the chunks read
  ahead go back to the feed);
* SIGTERM (or Ctrl-C) drains: ``STOPPING=1``, the current turn may finish for
  ``[service] drain_s``, then it is cancelled (at once on a second signal);
  telemetry is flushed and :meth:`Daemon.run` returns normally (exit status 0).
  A drain asked between two runs (while a reload is applied) ends the next run
  before it hears anything.

With a :class:`~hearthvox.service.serving.ServeAlongside` (``run --serve``) the
Wyoming server starts before ``READY=1``, shares the engines with the assistant's
turns first, follows a reload, and closes its listener and connections on stop.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from hearthvox import config as config_mod
from hearthvox.audio.sinks import Sink
from hearthvox.engines.memory import release_free_memory
from hearthvox.errors import HearthvoxError
from hearthvox.events import AudioChunk, Event, TurnDone
from hearthvox.pipeline.overhear import Playback
from hearthvox.pipeline.runner import Pipeline
from hearthvox.runtime import Runtime
from hearthvox.service.feed import Feed
from hearthvox.service.heartbeat import PIPELINE, Heartbeats, WatchedExecutor, stalled
from hearthvox.service.logs import StateLog
from hearthvox.service.notify import Notifier, ServiceEnv
from hearthvox.service.reload import reload_runtime
from hearthvox.service.serving import ServeAlongside
from hearthvox.service.watchdog import Watchdog
from hearthvox.telemetry import TelemetrySession, open_session
from hearthvox.telemetry.observer import turn_log_line
from hearthvox.telemetry.privacy import quiet_content_loggers

log = logging.getLogger(__name__)

TICK_S = 0.2
"""How often the event loop shows it is alive (well under any watchdog period)."""
RELOAD_LIMIT_S = 300.0
"""While a reload loads new models (a Pi takes its time), workers may be silent this long
(the units' TimeoutStartSec)."""


@dataclass(frozen=True)
class DaemonOptions:
    command: str = "run"
    """The telemetry label of this run."""
    ready_status: str = "listening"
    """The status once ready (``listening on the microphone for hey_jarvis``)."""
    config_path: Path | None = None
    """The file SIGHUP re-reads (None: the user's config.toml)."""
    reload: bool = True
    """Whether SIGHUP reloads the config (else it is left to its default action)."""
    early_stop: Callable[[], signal.Signals | None] | None = None
    """A stop signal that came before the daemon's own handlers were in (the start's,
    :mod:`hearthvox.service.startsignals`): acted on as soon as they are."""
    overrides: Callable[[config_mod.Config], config_mod.Config] | None = None
    """What the command line sets over the file (``--input-device``), applied again to
    the file re-read at each reload, so that a reload does not see it as a change."""
    realtime: bool = True
    """The input comes at the speed of speech (a microphone, a paced file); a file read
    as fast as it can be is heard as if each decode took no time (:meth:`Pipeline.run`)."""


class Daemon:
    def __init__(
        self,
        runtime: Runtime,
        source: AsyncIterator[AudioChunk],
        sink: Sink,
        on_event: Callable[[Event], None],
        *,
        env: ServiceEnv | None = None,
        state: StateLog | None = None,
        options: DaemonOptions | None = None,
        serving: ServeAlongside | None = None,
        overheard: Playback | None = None,
    ) -> None:
        self.runtime = runtime
        self.sink = sink
        self.overheard = overheard
        """The speaker when the microphone hears it: barge-in (:meth:`Pipeline.run`)."""
        self.on_event = on_event
        self.env = env or ServiceEnv()
        self.notifier = state.notifier if state is not None else Notifier(self.env.notify_socket)
        self.state = state or StateLog(self.notifier, journal=False)
        self.options = options or DaemonOptions()
        self.serving = serving
        self.beats = Heartbeats()
        self.executor = WatchedExecutor()
        self.feed = Feed(source, self.beats)
        self.turns = 0
        self.cancelled = False
        """The drain bound passed and the turn in progress was cancelled."""
        self._stopping = False
        self._reloading = False
        self._pending: config_mod.Config | None = None
        self._drive: asyncio.Task[None] | None = None
        self._pipeline: Pipeline | None = None
        """The pipeline of the current run (the last one's between runs)."""
        self._telemetry: TelemetrySession | None = None

    # -- the run ---------------------------------------------------------------------

    def run(self) -> bool:
        """Run to the end of the input or a stop signal. True when calls were left running
        (a stuck engine): the caller should then end the process without waiting for them."""
        quiet_content_loggers()
        self._telemetry = open_session(self.runtime, self.options.command)
        watchdog = self._watchdog()
        try:
            asyncio.run(self._main(watchdog))
        except BaseException:
            self.sink.abort()
            raise
        finally:
            if watchdog is not None:
                watchdog.stop()
            if self._telemetry is not None:
                self._telemetry.close()  # flushes every record
        if self.cancelled:
            self.sink.stop()  # a playback still running returns now
        self.sink.close()
        stuck = self._engine_busy()
        self.state("stopped", detail="a stuck engine call is abandoned" if stuck else "")
        return self.executor.running() > 0 or stuck

    def _engine_busy(self) -> bool:
        """Whether an engine call runs (on an engine's thread or the default executor)."""
        engines = self.runtime.executors()
        return self.executor.busy() or any(e.busy() for e in engines)

    def _watchdog(self) -> Watchdog | None:
        period_s = self.env.watchdog_s
        if period_s is None or not self.notifier.enabled:
            return None

        def problems() -> list[str]:
            limit_s = self.runtime.cfg.service.stall_s or period_s
            if self._reloading:
                limit_s = max(limit_s, RELOAD_LIMIT_S)
            return stalled(self.beats, self.executor, limit_s, self.runtime.executors())

        return Watchdog(self.notifier, period_s / 2.0, problems, self.state)

    async def _main(self, watchdog: Watchdog | None) -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(self.executor)
        ready_status = self.options.ready_status
        if self.serving is not None:  # a busy port fails the start before anything runs
            serving = await self.serving.start()
            self.state.line(serving)
            ready_status = f"{ready_status}; {serving.split(' (', 1)[0]}"
        signals = [signal.SIGTERM, signal.SIGINT]
        for sig in signals:
            loop.add_signal_handler(sig, self._on_stop, sig)
        if self.options.reload:
            loop.add_signal_handler(signal.SIGHUP, self._on_reload)
            signals.append(signal.SIGHUP)
        early = self.options.early_stop() if self.options.early_stop is not None else None
        if early is not None:  # came while the handlers were being put in
            self._on_stop(early)
        reader = asyncio.create_task(self.feed.read(), name="hv-input")
        ticker = asyncio.create_task(self._tick(), name="hv-ticker")
        self._drive = asyncio.create_task(self._turns(), name="hv-pipeline")
        self.beats.beat(PIPELINE)
        self.notifier.ready(ready_status)
        self.state.line(f"ready: {ready_status}")
        self.state.status = ready_status
        if watchdog is not None:
            watchdog.start()
        try:
            await asyncio.wait({self._drive})
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            for task in (ticker, reader):
                task.cancel()
            await asyncio.gather(ticker, reader, return_exceptions=True)
            if self.serving is not None:
                self.state.line(await self.serving.close())
        if self._stopping:  # an input read (stdin) may wait long for its next block
            self.executor.abandon = True
        if self._drive.cancelled():
            self.cancelled = True
            self.executor.abandon = True
        else:
            self._drive.result()  # the pipeline's error, if any, is the run's

    async def _turns(self) -> None:
        while True:
            pipeline = self._pipeline = self.runtime.pipeline()
            if self._stopping or self._pending is not None:  # asked between two runs
                pipeline.drain(follow_up=not self._stopping)
            chunks = self.feed.chunks()
            run = pipeline.run(
                chunks, self.sink, overheard=self.overheard, realtime=self.options.realtime
            )
            async for event in run:
                if isinstance(event, TurnDone):
                    self.turns += 1
                    log.info("%s", turn_log_line(event))
                    self.notifier.status(f"{self.state.status} ({self.turns} turns)")
                self.on_event(event)
                if self.serving is not None:  # may wait for a Wyoming call to finish
                    await self.serving.observe(event)
            self.feed.put_back(pipeline.leftover)  # read ahead, not heard: the next run's
            if self.serving is not None:
                self.serving.idle()
            if self.feed.ended or self._stopping:
                return
            if self._pending is not None:
                await self._apply_reload()

    async def _tick(self) -> None:
        """The loop is alive: the pipeline is fine while it has nothing to take or waits
        on an engine (whose calls are judged on their own); a reader waiting for the
        pipeline is not silent either."""
        while True:
            if self.feed.pending() == 0 or self._engine_busy():
                self.beats.beat(PIPELINE)
            if self.feed.waiting:
                self.beats.beat("audio")
            await asyncio.sleep(TICK_S)

    # -- signals ---------------------------------------------------------------------

    def _on_stop(self, sig: signal.Signals) -> None:
        if self._stopping:  # asked twice: do not wait for the turn
            self._cancel()
            return
        self._stopping = True
        self._pending = None
        drain_s = self.runtime.cfg.service.drain_s
        in_turn = self._pipeline is not None and self._pipeline.in_turn
        turn = f"; the current turn may finish for {drain_s:g} s" if in_turn else ""
        self.notifier.stopping("stopping")
        self.state.line(f"stopping ({sig.name}){turn}")
        self.state.status = "stopping"
        if self._pipeline is not None:  # between runs, the next is drained as it starts
            self._pipeline.drain(follow_up=False)  # a follow-up window is not waited for
        asyncio.get_running_loop().call_later(drain_s, self._cancel)

    def _cancel(self) -> None:
        if self._drive is not None and not self._drive.done():
            self.state.line("the turn did not finish in time: cancelled", logging.WARNING)
            self._drive.cancel()

    def _on_reload(self) -> None:
        if self._stopping:
            return
        self.notifier.reloading("reloading the config")
        self.state.line("reloading the config (SIGHUP)")
        try:
            cfg = config_mod.load(self.options.config_path)
            if self.options.overrides is not None:
                cfg = self.options.overrides(cfg)
        except HearthvoxError as exc:
            self._reload_failed(str(exc))
            return
        self._pending = cfg
        if self._pipeline is not None:  # applied between turns, in _turns
            self._pipeline.drain()

    def _reload_failed(self, why: str) -> None:
        self.state.line(f"reload failed: {why}; keeping the previous config", logging.ERROR)
        self.notifier.ready(f"{self.state.status} (last reload failed)")

    async def _apply_reload(self) -> None:
        cfg, self._pending = self._pending, None
        assert cfg is not None
        old = self.runtime
        self._reloading = True
        try:
            done = await asyncio.to_thread(reload_runtime, old, cfg)
        except HearthvoxError as exc:
            self._reload_failed(str(exc))
            return
        except Exception as exc:  # a config that validates but breaks a runtime: keep the old
            self._reload_failed(f"{type(exc).__name__}: {exc}")
            return
        finally:
            self._reloading = False
        self.runtime = done.runtime
        if self.serving is not None and done.engines_changed:
            new = done.runtime
            self.serving.reloaded(new.engines, new.models, new.cfg)
        if self._telemetry is not None and (
            done.engines_changed or done.runtime.cfg.telemetry != old.cfg.telemetry
        ):
            self._telemetry.close()
            self._telemetry = None
        if self._telemetry is None:
            self._telemetry = open_session(self.runtime, "reload")
        if done.engines_changed:  # the old models: freed now, their pages given back
            del old  # (the Wyoming server moved to the new ones above)
            gc.collect()
            release_free_memory()
        self.notifier.ready(self.state.status)
        self.state.line(f"config reloaded: {done.summary()}")
