"""The vocabulary: a user's list of names and codes, bounded and checked like any input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearthvox import vocabulary as voc
from hearthvox.config import load
from hearthvox.errors import ConfigError
from hearthvox.vocabulary import Term, Vocabulary, load_vocabulary, parse_terms, parse_vocabulary
from tests.conftest import REPO


def test_a_file_with_comments_spoken_forms_and_repeats(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_text(
        "# the household\n\nZbigniew\nSKU-4471 = s k u forty four seventy one\n"
        "  Aoife   =  ee   fa \nzbigniew = zbig nyef\n",
        encoding="utf-8",
    )
    v = load_vocabulary(path)
    assert v.terms == (
        Term("Zbigniew", ("zbig nyef",)),  # the repeat adds its spoken form to the first
        Term("SKU-4471", ("s k u forty four seventy one",)),
        Term("Aoife", ("ee fa",)),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x" * (voc.MAX_TERM_CHARS + 1), "longer than 64 characters"),
        ("Aoife = " + "e" * (voc.MAX_SPOKEN_CHARS + 1), "longer than 128 characters"),
        ("bad\x07bell", "control character"),
        ("---", "has no letter or digit"),
        ("\n".join(f"t{i}" for i in range(voc.MAX_TERMS + 1)), "more than 500 terms"),
    ],
)
def test_bad_lines_are_refused_with_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as exc:
        parse_vocabulary(text, "names.txt")
    assert "\n" not in str(exc.value)


def test_files_that_are_not_a_small_utf8_regular_file(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("a\n" * (voc.MAX_FILE_BYTES // 2 + 1))
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"Jos\xe9\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, message in (
        (big, "larger than 64 KiB"),
        (latin, "not UTF-8"),
        (tmp_path, "not a regular file"),
        (fifo, "not a regular file"),  # never opened: it would block
        (tmp_path / "missing.txt", "does not exist"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_vocabulary(path)


def test_a_request_list_is_checked_term_by_term() -> None:
    assert parse_terms(["XJ-4471", "Aoife = ee fa"], "request").written() == ("XJ-4471", "Aoife")
    with pytest.raises(ConfigError, match="term 2 is not a string"):
        parse_terms(["ok", 7], "request")
    with pytest.raises(ConfigError, match="more than 500 terms"):
        parse_terms(["t"] * (voc.MAX_TERMS + 1), "request")


def test_merging_keeps_the_order_and_the_bound() -> None:
    a = Vocabulary((Term("Aoife"), Term("Zoltan")))
    b = Vocabulary((Term("aoife", ("ee fa",)), Term("Ingrid")))
    assert a.merged(b).terms == (Term("Aoife", ("ee fa",)), Term("Zoltan"), Term("Ingrid"))
    many = Vocabulary(tuple(Term(f"t{i}") for i in range(voc.MAX_TERMS)))
    with pytest.raises(ConfigError, match="at most 500 terms"):
        many.merged(Vocabulary((Term("one more"),)))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_any_text_is_a_vocabulary_or_one_config_error(text: str) -> None:
    try:
        v = parse_vocabulary(text, "fuzz")
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    assert len(v) <= voc.MAX_TERMS
    for term in v.terms:
        assert 0 < len(term.written) <= voc.MAX_TERM_CHARS
        assert len(term.spoken) <= voc.MAX_SPOKEN_FORMS


def test_the_config_names_a_missing_vocabulary_before_anything_loads(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[asr]\nvocabulary = "{tmp_path / "nope.txt"}"\n')
    with pytest.raises(ConfigError, match="nope.txt does not exist"):
        load(cfg)
    proc = subprocess.run(
        [sys.executable, "-m", "hearthvox", "--config", str(cfg), "transcribe", str(REPO)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"hearthvox: error: {cfg}: vocabulary file {tmp_path / 'nope.txt'} does not exist"
    ]


def test_a_relative_vocabulary_path_is_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "names.txt").write_text("Zbigniew\n")
    cfg = tmp_path / "config.toml"
    cfg.write_text('[asr]\nvocabulary = "names.txt"\n')
    assert load(cfg).asr.vocabulary == str(tmp_path.resolve() / "names.txt")
