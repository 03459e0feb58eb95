"""First-clause TTS: the chunking rules, and the stream against Piper's sentences."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hearthvox.engines import Engines
from hearthvox.engines.executor import EngineExecutor
from hearthvox.engines.tts_chunks import (
    ChunkOptions,
    Prefetch,
    bounded,
    speech_chunks,
    split_first,
)
from hearthvox.errors import EngineError

OPTS = ChunkOptions()


def _ph(text: str) -> list[str]:
    return list(text)  # characters stand in for phonemes: the rules only look at , ; : and spaces


def test_first_clause_is_cut_after_its_comma() -> None:
    parts = split_first(_ph("sorry, i cant do that yet for you today."), OPTS)
    assert ["".join(p) for p in parts] == ["sorry,", "i cant do that yet for you today."]


def test_a_long_sentence_without_a_comma_is_cut_at_a_word_gap_about_a_third_in() -> None:
    text = "your pasta timer is set for ten minutes and rings at noon."
    head, rest = ("".join(p) for p in split_first(_ph(text), OPTS))
    assert head + " " + rest == text
    assert 0.2 * len(text) <= len(head) <= 0.45 * len(text), head


def test_short_sentences_and_unbreakable_ones_stay_whole() -> None:
    assert len(split_first(_ph("it is noon."), OPTS)) == 1
    assert len(split_first(_ph("abcdefghijklmnopqrstu."), OPTS)) == 1  # no gap to cut at
    # a comma too late in the sentence is passed over for a word gap about a third in
    head, _rest = split_first(_ph("the quick brown fox jumps over it, ok."), OPTS)
    assert "".join(head) == "the quick"
    text = _ph("sorry, i cant do that yet for you.")
    assert split_first(text, ChunkOptions(first_clause=False)) == [text]


def test_only_the_first_sentence_is_split() -> None:
    chunks = speech_chunks([_ph("sorry, i cant do that yet for you."), _ph("try later, ok.")], OPTS)
    assert ["".join(c) for c in chunks] == [
        "sorry,",
        "i cant do that yet for you.",
        "try later, ok.",
    ]
    assert speech_chunks([[], []], OPTS) == []


def test_long_chunks_are_cut_at_a_clause_break_or_a_word_gap() -> None:
    text = _ph("one two three, four five six seven eight nine")
    assert ["".join(p) for p in bounded(text, 20)] == [
        "one two three,",
        "four five six seven",
        "eight nine",
    ]
    assert ["".join(p) for p in bounded(_ph("abcdefghij"), 4)] == ["abcd", "efgh", "ij"]
    chunks = speech_chunks([_ph("x" * 10 + " " + "y" * 150 + ".")], OPTS)
    assert max(map(len, chunks)) <= OPTS.max_chunk
    assert sum(map(len, chunks)) == 162 - 1  # only the space at a cut is dropped


def test_stream_says_the_same_as_piper_with_a_shorter_first_chunk(engines: Engines) -> None:
    tts = engines.tts
    text = "Sorry, I can't do that yet. Try asking for the time or a timer."
    whole = list(tts.sentences(text))
    chunks = list(tts.stream(text))
    assert len(chunks) == len(whole) + 1
    assert len(chunks[0]) < 0.5 * len(whole[0])
    total, expected = sum(map(len, chunks)), sum(map(len, whole))
    assert abs(total - expected) < 0.15 * expected  # same words; Piper's timing varies a little
    assert all(c.dtype == np.int16 and np.abs(c).max() > 10000 for c in chunks)


def test_prefetch_runs_ahead_and_stops_when_closed() -> None:
    started = threading.Event()
    release = threading.Event()
    made: list[str] = []

    def make(item: list[str]) -> str:
        if item == ["b"]:
            started.set()
            assert release.wait(10)
        made.append(item[0])
        return item[0]

    voice = EngineExecutor("test-tts")
    stream = Prefetch(make, [["a"], ["b"], ["c"], ["d"]], voice, ahead=1)
    assert next(stream) == "a"
    assert started.wait(10)  # "b" is being made on the voice's thread before anyone asked
    threading.Timer(0.2, release.set).start()
    stream.close()  # "c" never starts; waits for "b"
    voice.submit(lambda: None).result(10)  # whatever was queued has run by now
    assert made == ["a", "b"]
    with pytest.raises(StopIteration):
        next(stream)
    voice.shutdown()


def test_prefetch_hands_worker_errors_to_the_consumer() -> None:
    made: list[str] = []

    def make(item: list[str]) -> str:
        if item == ["bad"]:
            raise ValueError("bad")
        made.append(item[0])
        return item[0]

    voice = EngineExecutor("test-tts")
    items = [["ok"], ["bad"], ["n1"], ["n2"], ["never"], ["never2"]]
    stream = Prefetch(make, items, voice, ahead=1)
    assert next(stream) == "ok"
    with pytest.raises(EngineError, match="speech synthesis failed: bad"):
        next(stream)
    with pytest.raises(StopIteration):  # a failure ends the stream
        next(stream)
    voice.submit(lambda: None).result(10)
    assert not {"never", "never2"} & set(made)  # only what was already submitted ran
    voice.shutdown()


def test_a_dropped_reply_leaves_nothing_running() -> None:
    """A reply cut off after its first chunk: what was not started is cancelled, and the
    voice's thread is free at once for the next reply (no worker is left behind)."""
    made: list[str] = []
    voice = EngineExecutor("test-tts")

    def make(item: list[str]) -> str:
        time.sleep(0.05)
        made.append(item[0])
        return item[0]

    stream = Prefetch(make, [[c] for c in "abcdefgh"], voice, ahead=2)
    assert next(stream) == "a"
    stream.cancel()
    assert voice.submit(lambda: "free").result(10) == "free"
    assert len(made) <= 4 and made[:1] == ["a"]  # at most the chunks already submitted
    dropped = Prefetch(make, [[c] for c in "ijklmnop"], voice, ahead=2)
    assert next(dropped) == "i"
    del dropped  # dropping the iterator cancels its queued chunks
    voice.submit(lambda: None).result(10)
    assert not {"m", "n", "o", "p"} & set(made)
    voice.shutdown(wait=True)  # returns: no call of a stream still runs
