"""A reply written while it is spoken (the language model's): cut into clauses, each said
as soon as it is written; a barge-in stops the writer; no words at all: the reply's own
text is said. The writer here is a thread that writes a fixed text slowly (the model's
own tests are in tests/engines/test_llm.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import pytest

from hearthvox.engines import Engines
from hearthvox.events import (
    Event,
    Int16Array,
    Interrupt,
    Reply,
    ReplyDone,
    StageError,
    TextStream,
    TtsFirstAudio,
)
from hearthvox.pipeline.clauses import MAX_CLAUSE_CHARS, clauses, take_clause
from hearthvox.pipeline.clock import StreamClock
from hearthvox.pipeline.control import ControlLane, StopReply
from hearthvox.pipeline.jsonl import event_record
from hearthvox.pipeline.speculate import SpeculativeReply
from hearthvox.pipeline.stages import speak_stage
from hearthvox.pipeline.voicing import CLAUSES_AHEAD
from hearthvox.skills import SkillResult
from hearthvox.skills.registry import FALLBACK

ANSWER = (
    "Paris is the capital of France, and it lies on the Seine. It has about two million people."
)


async def _pieces(text: str, size: int = 3) -> AsyncIterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


def _clauses(text: str, size: int = 3) -> list[str]:
    async def main() -> list[str]:
        return [c async for c in clauses(_pieces(text, size))]

    return asyncio.run(main())


def test_the_first_clause_comes_alone_then_whole_sentences() -> None:
    assert _clauses(ANSWER) == [
        "Paris is the capital",  # four words, no break yet: the voice starts
        "of France, and it lies on the Seine.",
        "It has about two million people.",
    ]
    assert _clauses("Well, Paris is, I think, the capital.") == [
        "Well, Paris is,",  # a comma after three words
        "I think, the capital.",
    ]


def test_a_comma_after_fewer_than_three_words_is_no_clause() -> None:
    assert _clauses("Yes, it is. Sure.") == ["Yes, it is.", "Sure."]


def test_a_first_sentence_with_no_break_starts_after_four_words() -> None:
    text = "The sky looks blue because sunlight scatters in the air. Red light does not."
    assert _clauses(text) == [
        "The sky looks blue",
        "because sunlight scatters in the air.",
        "Red light does not.",
    ]
    assert _clauses("It is blue.") == ["It is blue."]


def test_a_decimal_point_or_an_unfinished_sentence_waits_for_more() -> None:
    assert take_clause("It costs 3.5", first=False) == (None, "It costs 3.5")
    assert _clauses("It costs 3.5 euros. That is all") == ["It costs 3.5 euros.", "That is all"]


def test_a_run_with_no_break_is_cut_at_a_word_gap() -> None:
    words = " ".join(["word"] * 100)  # 499 characters, no punctuation
    out = _clauses(words, size=7)
    assert all(len(c) <= MAX_CLAUSE_CHARS for c in out)
    assert " ".join(out) == words


class Speaker:
    def __init__(self) -> None:
        self.written: list[tuple[float, int]] = []
        self.stopped = 0

    def write(self, samples: Int16Array, rate_hz: int) -> None:
        self.written.append((time.perf_counter(), len(samples)))
        time.sleep(len(samples) / rate_hz / 20)  # played at 20x

    def stop(self) -> None:
        self.stopped += 1


def _writer(stream: TextStream, text: str, delay_s: float, log: dict[str, float]) -> None:
    try:
        for i in range(0, len(text), 4):
            if stream.cancelled.is_set():
                log["cancelled_at"] = i
                return
            stream.put(text[i : i + 4])
            time.sleep(delay_s)
    finally:
        log["ended"] = time.perf_counter()
        stream.end()


async def _speak(
    engines: Engines,
    text: str,
    delay_s: float,
    *,
    stops: ControlLane[StopReply] | None = None,
    error: str | None = None,
    stop_after_chunks: int | None = None,
) -> tuple[list[Event], Speaker, dict[str, float]]:
    speaker = Speaker()
    stream = TextStream()
    log: dict[str, float] = {}
    if error is not None:
        stream.end(error)
    else:
        threading.Thread(target=_writer, args=(stream, text, delay_s, log), daemon=True).start()
    reply = Reply(0, 0, "Sorry, I can't do that yet.", "llm", 0.0, stream=stream)

    async def one() -> AsyncIterator[Event]:
        yield reply

    out: list[Event] = []
    async for event in speak_stage(one(), engines.tts, speaker, StreamClock(), stops=stops):
        out.append(event)
        if stops is not None and isinstance(event, TtsFirstAudio) and stop_after_chunks:
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, stops.send, StopReply())
    return out, speaker, log


def test_a_streamed_reply_is_spoken_before_it_is_all_written(engines: Engines) -> None:
    out, speaker, log = asyncio.run(_speak(engines, ANSWER, delay_s=0.03))
    done = [e for e in out if isinstance(e, ReplyDone)]
    assert len(done) == 1 and done[0].streamed_text == ANSWER and not done[0].interrupted
    assert len(speaker.written) >= 3  # a chunk per clause at least
    assert speaker.written[0][0] < log["ended"]  # the first clause played while writing
    records = [r for e in out if (r := event_record(e)) is not None]
    assert records[0]["event"] == "reply" and records[0]["text"] == "" and records[0]["streamed"]
    assert records[-1] == {
        "event": "reply_text",
        "t_audio_ms": records[-1]["t_audio_ms"],
        "t_wall_ms": records[-1]["t_wall_ms"],
        "text": ANSWER,
        "interrupted": False,
    }


def test_a_barge_in_stops_the_writer_and_drops_the_rest(engines: Engines) -> None:
    stops: ControlLane[StopReply] = ControlLane()
    long = " ".join([ANSWER] * 6)
    out, speaker, log = asyncio.run(
        _speak(engines, long, delay_s=0.05, stops=stops, stop_after_chunks=1)
    )
    assert any(isinstance(e, Interrupt) for e in out)
    done = next(e for e in out if isinstance(e, ReplyDone))
    assert done.interrupted and done.streamed_text is not None
    assert len(done.streamed_text) < len(long)
    deadline = time.monotonic() + 2.0
    while "ended" not in log and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "cancelled_at" in log  # the writer saw the cancel and stopped


@pytest.mark.parametrize("error", ["the language model failed: out of memory"])
def test_no_words_from_the_writer_say_the_reply_text(engines: Engines, error: str) -> None:
    out, speaker, _ = asyncio.run(_speak(engines, "", delay_s=0.0, error=error))
    errors = [e for e in out if isinstance(e, StageError)]
    assert [(e.stage, e.message) for e in errors] == [("llm", error)]
    assert speaker.written  # "Sorry, I can't do that yet." instead
    done = next(e for e in out if isinstance(e, ReplyDone))
    assert done.streamed_text == "" and not done.interrupted


class _Model:
    """What the language model's fallback does at a pause: a reply written on a thread."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.streams: list[TextStream] = []
        self.log: dict[str, float] = {}

    def prepare(self, utterance: str) -> TextStream:
        stream = TextStream()
        self.streams.append(stream)
        threading.Thread(
            target=_writer, args=(stream, self.text, 0.005, self.log), daemon=True
        ).start()
        return stream

    def drop(self) -> None:
        for stream in self.streams:
            stream.cancel()


class _OnlyFallback:
    def preview(self, utterance: str) -> tuple[str, SkillResult]:
        return FALLBACK, SkillResult("Sorry, I can't do that yet.")


def test_a_reply_started_at_the_pause_is_voiced_before_the_turn_commits(
    engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's reply started at a pause has its first clause synthesised by the time
    the endpoint confirms: the speak stage plays it without synthesising anew."""
    model = _Model(ANSWER)
    expected = _clauses(ANSWER)[CLAUSES_AHEAD:]

    async def main() -> tuple[list[Event], Speaker]:
        replies = SpeculativeReply(_OnlyFallback(), engines.tts, model)  # type: ignore[arg-type]
        replies.prepare(1000.0, "what is the capital of france")
        voiced = replies._voiced  # noqa: SLF001
        assert voiced is not None
        for _ in range(200):  # the hangover: written and voiced meanwhile (10 s at most)
            if len(voiced.playing) >= CLAUSES_AHEAD:
                break
            await asyncio.sleep(0.05)
        stream = model.streams[0]
        assert stream.text.startswith("Paris is the capital")  # read by the voice already
        calls: list[str] = []
        voice = engines.tts.stream

        def counted(text: str) -> object:
            calls.append(text)
            return voice(text)

        monkeypatch.setattr(engines.tts, "stream", counted)

        async def one() -> AsyncIterator[Event]:
            yield Reply(0, 0, "Sorry, I can't do that yet.", "llm", 0.0, stream=stream)

        speaker = Speaker()
        out = [e async for e in speak_stage(one(), engines.tts, speaker, StreamClock(), replies)]
        assert replies.used == 1
        # the first clauses were voiced in the pause; the rest as those play out
        assert calls == expected
        return out, speaker

    out, speaker = asyncio.run(main())
    done = next(e for e in out if isinstance(e, ReplyDone))
    assert done.streamed_text == ANSWER and not done.interrupted and speaker.written


def test_a_reply_started_at_a_pause_the_turn_did_not_end_at_is_dropped(engines: Engines) -> None:
    model = _Model(" ".join([ANSWER] * 6))

    async def main() -> SpeculativeReply:
        replies = SpeculativeReply(_OnlyFallback(), engines.tts, model)  # type: ignore[arg-type]
        replies.prepare(1000.0, "what is the capital")
        await asyncio.sleep(0.2)
        replies.prepare(1800.0, "what is the capital of france")  # speech went on
        await asyncio.sleep(0.2)
        assert replies.take_voiced(TextStream()) is None  # another reply: dropped too
        return replies

    replies = asyncio.run(main())
    assert [s.cancelled.is_set() for s in model.streams] == [True, True]
    assert replies.used == 0
