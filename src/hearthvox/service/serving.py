"""``hearthvox run --serve``: the Wyoming server inside the assistant's process.

The server answers with the assistant's own engines (one Whisper, one Piper, one
wake word and VAD set, loaded once), and the assistant's turns go first (see
:mod:`hearthvox.protocol.gate`): a Wyoming transcription or synthesis waits
while the device is answering its own microphone, requests go in arrival order,
and one that waits longer than ``[serve] wait_s`` gets a ``busy`` error.

:class:`~hearthvox.service.daemon.Daemon` drives it: the server starts before
``READY=1`` and closes (listener and connections) when the daemon stops; after
a SIGHUP that reloaded the models, new requests use the new ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from hearthvox import events as ev
from hearthvox.bundles.default import ModelPaths
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.protocol.gate import EngineGate
from hearthvox.protocol.options import ServerOptions
from hearthvox.protocol.server import DEFAULT_URI, Address, WyomingServer, check_bind, parse_uri
from hearthvox.protocol.services import Services, make_services, served_models
from hearthvox.runtime import Runtime


@dataclass(frozen=True)
class ServeSettings:
    address: Address
    wait_s: float


def serve_settings(cfg: Config, uri: str | None = None) -> ServeSettings | None:
    """Where ``run`` serves Wyoming: ``uri`` (``run --serve``), else ``[serve] uri`` when
    ``[serve] with_run`` is on; None: it does not. Raises ConfigError for a bad address,
    or a non-loopback one without ``[serve] allow_remote``."""
    serve = cfg.serve
    if uri is None:
        if not serve.with_run:
            return None
        uri = serve.uri or DEFAULT_URI
    address = parse_uri(uri)
    check_bind(address, serve.allow_remote, how="set [serve] allow_remote = true in the config")
    return ServeSettings(address, serve.wait_s)


class ServeAlongside:
    """The Wyoming server that shares the assistant's engines, and the gate between them."""

    def __init__(
        self,
        engines: Engines,
        models: ModelPaths,
        cfg: Config,
        settings: ServeSettings,
        options: ServerOptions | None = None,
    ) -> None:
        self.gate = EngineGate(settings.wait_s)
        self.services: Services = make_services(engines, models, cfg, gate=self.gate)
        self.server = WyomingServer(self.services, settings.address, options or ServerOptions())
        self._in_turn = False

    @classmethod
    def of(cls, runtime: Runtime, settings: ServeSettings | None) -> ServeAlongside | None:
        """The server for ``runtime``'s engines, or None when ``settings`` is None."""
        if settings is None:
            return None
        return cls(runtime.engines, runtime.models, runtime.cfg, settings)

    async def start(self) -> str:
        """Listen; the line to log (``serving Wyoming on tcp://127.0.0.1:10550 ...``)."""
        bound = await self.server.start()
        wake = ", ".join(self.services.wake_names)
        return (
            f"serving Wyoming on {bound.uri()} (asr, tts, wake: {wake}) "
            "with the assistant's models; its turns go first"
        )

    async def observe(self, event: ev.Event) -> None:
        """Follow the assistant: claim the engines when a turn (or a timer's announcement)
        starts, free them when it is done (as :func:`hearthvox.pipeline.turns.track_turns`
        opens and closes turns)."""
        match event:
            case ev.WakeDetected() | ev.SpeechStarted():
                self._in_turn = True
                await self.gate.claim()
            case ev.SpeechEnded() | ev.Reply():
                await self.gate.claim()
            case ev.TurnDone() | ev.NoSpeech():
                self._in_turn = False
                self.gate.release()
            case ev.ReplyDone(announcement=True) if not self._in_turn:
                self.gate.release()

    def idle(self) -> None:
        """The assistant's pipeline stopped (input ended, reload, stop): no turn is on."""
        self._in_turn = False
        self.gate.release()

    def reloaded(self, engines: Engines, models: ModelPaths, cfg: Config) -> None:
        """The assistant reloaded its models: serve the new ones."""
        self.services.use(engines, served_models(models, cfg, engines.wake.model_names))

    async def close(self) -> str:
        """Stop listening and end every connection; the line to log."""
        self.gate.release()
        await self.server.close()
        g = self.gate
        return (
            f"Wyoming server closed; over {g.claims} turns of the assistant, "
            f"{g.waited} Wyoming engine calls waited for one, {g.refused} were refused (busy)"
        )
