"""One client connection: read events, dispatch them with ``match``, answer.

State is per connection: the pending request (``transcribe`` / ``detect``),
the audio stream it is receiving, a streaming synthesis. Only the engines are
shared. A malformed frame or event, or an unknown event type, gets an
``error`` event and the connection is closed; a request this server cannot
serve gets an ``error`` and the connection stays open; an engine failure gets
an ``error`` and the request is dropped. Nothing the user said or asked to be
spoken is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from wyoming.asr import Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.ping import Pong
from wyoming.tts import SynthesizeStopped
from wyoming.wake import Detection, NotDetected

from hearthvox.errors import EngineError
from hearthvox.events import Int16Array
from hearthvox.protocol import requests as req
from hearthvox.protocol.framing import ClientGone, ProtocolError, read_event, write_event
from hearthvox.protocol.gate import EngineBusy
from hearthvox.protocol.options import ServerOptions
from hearthvox.protocol.pcm import RATE_HZ, PcmConverter, PcmFormat
from hearthvox.protocol.services import Services
from hearthvox.protocol.streams import AsrStream, WakeStream
from hearthvox.protocol.tts_stream import TtsStream

log = logging.getLogger(__name__)

_PCM16 = PcmFormat(RATE_HZ, 2, 1)
LINGER_S = 1.0
LINGER_BYTES = 1 << 20


@dataclass
class _Audio:
    converter: PcmConverter
    stream: AsrStream | WakeStream
    language: str = ""
    source_s: float = 0.0
    """Seconds of audio received, counted from the chunks' declared formats and sizes."""


class Connection:
    def __init__(
        self,
        services: Services,
        options: ServerOptions,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: str,
    ) -> None:
        self._services = services
        self._options = options
        self._reader = reader
        self._writer = writer
        self.peer = peer
        self._write_lock = asyncio.Lock()
        self._pending: req.AsrRequest | req.WakeRequest | None = None
        self._audio: _Audio | None = None
        self._tts: TtsStream | None = None
        self.idle_since: float | None = None
        """Loop time since which the connection waits for an event (None: it is working)."""

    async def send(self, event: Event) -> None:
        async with self._write_lock:
            await write_event(self._writer, event, self._options.limits.write_timeout_s)

    async def run(self) -> None:
        """Serve the connection until the client leaves or breaks the protocol."""
        loop = asyncio.get_running_loop()
        first = True
        try:
            while True:
                self.idle_since = loop.time()
                event = await read_event(self._reader, self._options.limits, first=first)
                self.idle_since = None
                if event is None:
                    break
                first = False
                try:
                    await self._dispatch(event)
                except ProtocolError as exc:
                    if exc.close:
                        raise
                    await self.send(Error(exc.text, exc.code).event())
                except EngineError as exc:
                    await self._drop_request()
                    code = "busy" if isinstance(exc, EngineBusy) else "engine-failed"
                    await self.send(Error(str(exc), code).event())
        except ProtocolError as exc:
            log.info("closing the connection from %s: %s", self.peer, exc.code)
            log.debug("%s: %s", self.peer, exc.text)
            with contextlib.suppress(ClientGone):
                await self.send(Error(exc.text, exc.code).event())
                await self._linger()
        except ClientGone as exc:
            log.debug("client %s gone: %s", self.peer, exc)
        except ConnectionError as exc:
            log.debug("client %s gone: %s", self.peer, exc)
        except Exception:  # a bug: this connection ends, the server goes on
            log.exception("internal error on the connection from %s", self.peer)
            with contextlib.suppress(ClientGone):
                await self.send(Error("internal server error", "internal").event())
        finally:
            await self._drop_request()
            self._writer.close()

    async def _linger(self) -> None:
        """Half-close, then read and drop what the client still sends (bounded), so that
        closing with unread input does not reset the connection before the error is read."""
        with contextlib.suppress(OSError, RuntimeError):
            self._writer.write_eof()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LINGER_S
        dropped = 0
        with contextlib.suppress(OSError, TimeoutError):
            while dropped < LINGER_BYTES and (left := deadline - loop.time()) > 0:
                data = await asyncio.wait_for(self._reader.read(65536), left)
                if not data:
                    return
                dropped += len(data)

    async def _dispatch(self, event: Event) -> None:
        data = event.data
        match event.type:
            case "describe":
                await self.send(self._services.info.event())
            case "ping":
                await self.send(Pong(req.optional_str(data.get("text"), "text")).event())
            case "select-program":
                req.select_program(data)
            case "transcribe":
                self._pending = req.transcribe_request(event, self._services.served)
            case "detect":
                self._pending = req.detect_request(event, self._services.wake_names)
            case "audio-start":
                await self._audio_start(PcmFormat.from_data(data))
            case "audio-chunk":
                await self._audio_chunk(PcmFormat.from_data(data), event.payload or b"")
            case "audio-stop":
                await self._audio_stop()
            case "synthesize":
                text = req.text_field(data)
                req.check_voice(data, self._services.served)
                if self._tts is None:  # inside a stream it only repeats the text: ignored
                    self._check_text(text)
                    await self._speak(text)
            case "synthesize-start":
                req.check_voice(data, self._services.served)
                if self._tts is not None:
                    raise req.unsupported("a synthesis stream is already open")
                self._tts = TtsStream(self._speak, self._options.max_text_chars)
            case "synthesize-chunk":
                text = req.text_field(data)
                if self._tts is None:
                    raise req.unsupported("synthesize-chunk without synthesize-start")
                self._tts.add(text)
            case "synthesize-stop":
                if self._tts is None:
                    raise req.unsupported("synthesize-stop without synthesize-start")
                tts, self._tts = self._tts, None
                try:
                    await tts.finish()
                finally:
                    await tts.close()
                await self.send(SynthesizeStopped().event())
            case _:
                raise ProtocolError("unknown-event", f"unknown event type {event.type!r}")

    # ------------------------------------------------------------ audio in

    async def _audio_start(self, fmt: PcmFormat) -> None:
        if self._audio is not None:  # a new stream replaces an unfinished one
            await self._close_audio()
        pending, self._pending = self._pending, None
        if isinstance(pending, req.WakeRequest):
            self._audio = _Audio(PcmConverter(fmt), WakeStream(self._services, pending.names))
            return
        language = pending.language if pending else self._services.served.asr_language
        streaming = self._services.transcript_streaming
        converter = PcmConverter(fmt)  # before the stream, whose task runs until closed
        stream = AsrStream(
            self._services,
            max_s=self._options.max_audio_s,
            on_chunk=self._transcript_chunk if streaming else None,
            cut_silence_ms=self._options.segment_silence_ms,
            vocabulary=pending.vocabulary if pending else None,
        )
        self._audio = _Audio(converter, stream, language)
        if streaming:
            await self.send(TranscriptStart(language=language).event())

    async def _transcript_chunk(self, text: str) -> None:
        await self.send(TranscriptChunk(text).event())

    def _check_budget(self, audio: _Audio, fmt: PcmFormat, payload: bytes) -> None:
        """Refuse audio over the budget from its declared format and size, before any
        conversion: one chunk at most ``max_audio_s``, a transcription in all as well."""
        chunk_s = fmt.duration_s(len(payload))
        total_s = audio.source_s + chunk_s
        limit = self._options.max_audio_s
        if chunk_s > limit or (isinstance(audio.stream, AsrStream) and total_s > limit):
            raise ProtocolError("too-long", f"audio longer than this server's limit of {limit:g} s")
        audio.source_s = total_s if isinstance(audio.stream, AsrStream) else 0.0

    async def _audio_chunk(self, fmt: PcmFormat, payload: bytes) -> None:
        if self._audio is None:  # audio without audio-start: the chunk says its format
            await self._audio_start(fmt)
        audio = self._audio
        assert audio is not None
        self._check_budget(audio, fmt, payload)
        if fmt != audio.converter.format:
            tail = await asyncio.to_thread(audio.converter.flush)
            audio.converter = PcmConverter(fmt)
            await self._feed(audio, tail)
        # conversion and resampling are CPU work: off the event loop
        await self._feed(audio, await asyncio.to_thread(audio.converter.convert, payload))

    async def _feed(self, audio: _Audio, samples: Int16Array) -> None:
        stream = audio.stream
        if isinstance(stream, WakeStream):
            for name, t_ms in await stream.feed(samples):
                await self.send(Detection(name=name, timestamp=t_ms).event())
        else:
            await stream.feed(samples)

    async def _audio_stop(self) -> None:
        if self._audio is None:
            if self._pending is None:
                return  # nothing was asked: nothing to answer
            await self._audio_start(_PCM16)
        audio = self._audio
        assert audio is not None
        self._audio = None
        stream = audio.stream
        try:
            tail = await asyncio.to_thread(audio.converter.flush)
            if isinstance(stream, WakeStream):
                await self._feed(audio, tail)
                if stream.detections == 0:
                    await self.send(NotDetected().event())
                return
            text = await stream.finish(tail)
            await self.send(Transcript(text, language=audio.language).event())
            if self._services.transcript_streaming:
                await self.send(TranscriptStop().event())
        finally:
            if isinstance(stream, AsrStream):
                await stream.close()

    async def _close_audio(self) -> None:
        audio, self._audio = self._audio, None
        if audio is not None and isinstance(audio.stream, AsrStream):
            await audio.stream.close()

    async def _drop_request(self) -> None:
        self._pending = None
        await self._close_audio()
        tts, self._tts = self._tts, None
        if tts is not None:
            await tts.close()

    # ------------------------------------------------------------ audio out

    def _check_text(self, text: str) -> None:
        if len(text) > self._options.max_text_chars:
            raise ProtocolError(
                "too-long",
                f"text longer than this server's limit of {self._options.max_text_chars} chars",
            )

    async def _speak(self, text: str) -> None:
        """One audio stream (audio-start, audio-chunk..., audio-stop): ``text`` spoken."""
        rate = self._services.tts_rate_hz
        await self.send(AudioStart(rate=rate, width=2, channels=1).event())
        step = self._options.samples_per_chunk * 2
        async for sentence in self._services.sentences(text):
            pcm = sentence.astype("<i2").tobytes()
            for i in range(0, len(pcm), step):
                chunk = AudioChunk(rate=rate, width=2, channels=1, audio=pcm[i : i + step])
                await self.send(chunk.event())
        await self.send(AudioStop().event())
