"""``hearthvox telemetry`` and the recording ``run`` as a user runs them: real subprocesses."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hearthvox.audio.wavio import write_wav
from hearthvox.engines import Engines
from hearthvox.paths import user_paths
from hearthvox.telemetry.store import TelemetryStore, default_path
from tests.conftest import REPO, hearthvox_cli, silence, speak16
from tests.telemetry.helpers import turn

CANARY = "Hey Jarvis, remind me about zanzibar quartz."
CANARY_WORDS = ("zanzibar", "quartz")


def events_of(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def all_files(root: Path) -> dict[Path, bytes]:
    """Every file under ``root`` but the model files pinned in models.lock (a vocabulary
    holds every word) and links to them."""
    pinned = (REPO / "models.lock").read_text()
    found = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink() or not p.is_file():
            continue
        data = p.read_bytes()
        if hashlib.sha256(data).hexdigest() not in pinned:
            found[p] = data
    return found


def pcm_needles(pattern: npt.NDArray[np.int16], speech: npt.NDArray[np.int16]) -> list[bytes]:
    """Runs of the input's samples as they could be stored: int16 and float32."""
    loud = np.argsort(np.abs(speech.astype(np.int32)))[-3:]
    windows = [pattern[i : i + 24] for i in (0, 1000, 3000)] + [speech[i : i + 24] for i in loud]
    needles = [w.tobytes() for w in windows]
    needles += [(w.astype(np.float32) / 32768.0).tobytes() for w in windows]
    return needles


def test_canary_nothing_said_lands_on_disk_in_logs_or_exports(
    engines: Engines, tmp_path: Path, hearthvox_home: Path
) -> None:
    # a distinctive PCM pattern right after the command, inside the utterance's audio
    pattern = np.random.default_rng(20240611).integers(-6000, 6000, 4000).astype(np.int16)
    speech = speak16(engines, CANARY)
    request = tmp_path / "request.wav"
    write_wav(request, np.concatenate([silence(1.0), speech, pattern, silence(2.5)]), 16000)
    assert pattern.tobytes()[:48] in request.read_bytes()  # the needle is really in the input

    proc = hearthvox_cli("-vv", "run", "--input", str(request), "--output", "none", "--json")
    assert proc.returncode == 0, proc.stderr
    events = events_of(proc.stdout)
    heard = str(next(e["text"] for e in events if e["event"] == "transcript"))
    # the reply's words: a skill's, or (a streamed reply) the language model's
    reply = str([e["text"] for e in events if e["event"] in ("reply", "reply_text")][-1])
    assert reply.strip(), events
    assert re.search(r"\bremind\b", heard, re.I), heard  # the command was heard and answered
    # point 5: one INFO line per turn with stage times, no text
    (turn_line,) = [
        line
        for line in proc.stderr.splitlines()
        if re.search(r"INFO hearthvox\.[\w.]+: turn \d", line)
    ]
    assert "asr" in turn_line and "queued" in turn_line

    out = tmp_path / "exports"
    exports = [
        hearthvox_cli("telemetry", "summary"),
        hearthvox_cli("telemetry", "summary", "--json"),
        hearthvox_cli("telemetry", "export", "--with-transcripts", "-o", str(out / "t.jsonl")),
        hearthvox_cli("telemetry", "export", "--format", "prometheus", "-o", str(out / "hv.prom")),
    ]
    for p in exports:
        assert p.returncode == 0, p.stderr
    summary = json.loads(exports[1].stdout)
    assert summary["turns"] == 1 and summary["starts"] == 1
    assert {"wake", "endpoint", "asr", "skill", "tts_first_audio"} <= set(summary["stages"])
    assert summary["stages"]["asr"]["queue"]["n"] == 1  # queue time recorded apart from work

    words = {*CANARY_WORDS, heard.lower(), reply.lower()}
    words |= {w for w in re.findall(r"[a-z']+", heard.lower()) if len(w) >= 6}
    texts = {"run log (-vv)": proc.stderr.encode()}
    texts |= {f"export {i}": (p.stdout + p.stderr).encode() for i, p in enumerate(exports)}
    files = all_files(hearthvox_home) | all_files(out)
    assert default_path(user_paths().state_dir) in files  # telemetry was written
    needles = pcm_needles(pattern, speech)
    for where, data in {**texts, **{str(k): v for k, v in files.items()}}.items():
        lowered = data.lower()
        for word in words:
            assert word.encode() not in lowered, f"{word!r} found in {where}"
        for needle in needles:
            assert needle not in data, f"input audio found in {where}"


def test_demo_survives_a_corrupt_database_and_keeps_text_only_when_asked(
    tmp_path: Path, hearthvox_home: Path
) -> None:
    db = default_path(user_paths().state_dir)
    db.parent.mkdir(parents=True)
    db.write_bytes(b"\x00garbage, not SQLite\n" * 500)
    until = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    config = tmp_path / "config.toml"
    config.write_text(f'[telemetry]\nkeep_transcripts = true\nkeep_transcripts_until = "{until}"\n')
    proc = hearthvox_cli("demo", "--no-play", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    # the broken file is set aside with a warning, a fresh database records the turn
    assert "moved it to telemetry.sqlite3.broken-" in proc.stderr
    (aside,) = db.parent.glob("telemetry.sqlite3.broken-*")
    assert aside.read_bytes().startswith(b"\x00garbage")
    summary = json.loads(hearthvox_cli("telemetry", "summary", "--json").stdout)
    assert summary["turns"] == 1 and summary["outcomes"] == {"answered": 1}
    assert summary["starts"] == 1 and summary["cold_start"]["n"] == 1
    # the text the user asked to keep is in its own table, and only exported on request
    conn = sqlite3.connect(db)
    kept = dict(conn.execute("SELECT field, text FROM content").fetchall())
    conn.close()
    assert "time" in kept["transcript"].lower() and kept["reply_text"].startswith("It is")
    exported = tmp_path / "with.jsonl"
    hearthvox_cli("telemetry", "export", "--with-transcripts", "-o", str(exported))
    assert kept["transcript"] in exported.read_text()

    purged = hearthvox_cli("telemetry", "purge", "--transcripts-only", "--yes", "--json")
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout)["content"] == 2
    for path, data in all_files(hearthvox_home).items():
        if "cache" not in path.parts:  # the demo's own request and reply WAVs live there
            assert kept["transcript"].lower().encode() not in data.lower(), path
            assert kept["reply_text"].encode() not in data, path
    assert hearthvox_cli("telemetry", "purge", "--yes").returncode == 0
    assert json.loads(hearthvox_cli("telemetry", "summary", "--json").stdout)["turns"] == 0
    assert not list(db.parent.glob("telemetry.sqlite3.broken-*"))


def _seed(first_audio_ms: list[float], outcomes: list[str]) -> None:
    store = TelemetryStore(default_path(user_paths().state_dir))
    for ms, outcome in zip(first_audio_ms, outcomes, strict=True):
        store.add_turn(turn(ms, outcome=outcome, woke=True))
    store.close()


@pytest.mark.parametrize(
    ("threshold", "rc", "status"), [(1500.0, 1, "BREACHED"), (2500.0, 0, "OK")]
)
def test_check_exits_non_zero_on_a_breach(
    tmp_path: Path, threshold: float, rc: int, status: str
) -> None:
    _seed([900.0, 1000.0, 1100.0, 1200.0, 2000.0, 2100.0], ["answered"] * 6)
    config = tmp_path / "config.toml"
    config.write_text(f"[telemetry]\nalert_first_audio_p95_ms = {threshold}\n")
    proc = hearthvox_cli("telemetry", "check", "--config", str(config))
    assert proc.returncode == rc, proc.stdout + proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "first_audio_p95_ms" in x)
    assert line.startswith(status)
    assert all(x.startswith(("OK", "SKIPPED")) for x in proc.stdout.splitlines() if x != line)


def test_check_json_names_every_breached_rule(tmp_path: Path) -> None:
    _seed(
        [500.0] * 3 + [0.0] * 3,
        ["answered", "error", "error", "no_speech", "no_speech", "answered"],
    )
    config = tmp_path / "config.toml"
    config.write_text("[telemetry]\nalert_error_rate = 0.2\nalert_false_wake_rate = 0.25\n")
    proc = hearthvox_cli("telemetry", "check", "--json", "--config", str(config))
    assert proc.returncode == 1
    results = {r["rule"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert results["error_rate"]["status"] == "breached"
    assert results["error_rate"]["value"] == pytest.approx(2 / 6, abs=1e-3)
    assert results["false_wake_rate"]["status"] == "breached"
    assert results["rss_mb"]["status"] == "ok"


def test_check_with_nothing_recorded_passes() -> None:
    proc = hearthvox_cli("telemetry", "check")
    assert proc.returncode == 0, proc.stderr
    assert all(x.startswith(("SKIPPED", "OK")) for x in proc.stdout.splitlines())


def test_summary_and_prometheus_export_of_recorded_turns(tmp_path: Path) -> None:
    _seed([400.0, 600.0, 800.0, 1000.0], ["answered", "answered", "error", "no_speech"])
    text = hearthvox_cli("telemetry", "summary").stdout
    assert "speech recognition" in text and "queued" in text
    assert "end of speech to first audio (ms):" in text  # the histogram
    assert "false-wake proxy: 1 of 4" in text
    prom = tmp_path / "hv.prom"
    proc = hearthvox_cli("telemetry", "export", "--format", "prometheus", "-o", str(prom))
    assert proc.returncode == 0, proc.stderr
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    turns = {
        s.labels["outcome"]: s.value
        for s in families["hearthvox_turns"].samples
        if s.name.endswith("_total")
    }
    assert turns == {"answered": 2.0, "error": 1.0, "no_speech": 1.0}
    count = next(
        s.value
        for s in families["hearthvox_stage_compute_seconds"].samples
        if s.name.endswith("_count") and s.labels["stage"] == "asr"
    )
    assert count == 4
    quantile = {
        (s.labels["stage"], s.labels["part"], s.labels["quantile"]): s.value
        for s in families["hearthvox_stage_quantile_seconds"].samples
    }
    assert quantile[("end_of_speech_to_first_audio", "compute", "0.5")] == pytest.approx(0.7)


def _seed_turns(records: list[dict[str, object]]) -> Path:
    path = default_path(user_paths().state_dir)
    store = TelemetryStore(path)
    for record in records:
        store.add_turn(record)
    store.close()
    return path


def _hub(
    area: str, outcome: str, arbitration: str | None, claims: int | None, **kw: Any
) -> dict[str, Any]:
    return turn(
        outcome=outcome, area=area, arbitration=arbitration, arbitration_claims=claims, **kw
    )


KITCHEN_ASR = [(300.0, 0.5), (340.0, 12.0), (500.0, 80.0)]
DEN_ASR = [(280.0, 0.2), (900.0, 3.0)]


def _seed_hub() -> None:
    _seed_turns(
        [
            turn(650.0),  # a turn of `hearthvox run`: no area
            _hub("kitchen", "answered", "won", 2, asr=KITCHEN_ASR[0]),
            _hub("kitchen", "answered", None, None, asr=KITCHEN_ASR[1]),  # heard alone
            _hub("kitchen", "shed", "won", 3, asr=KITCHEN_ASR[2]),
            _hub("den", "stood_down", "stood_down", 2, asr=(None, None)),
            _hub("den", "answered", None, None, woke=False, asr=DEN_ASR[0]),  # a follow-up
            _hub("den", "no_speech", "won", 2, asr=DEN_ASR[1]),
        ]
    )


def test_summary_per_area_of_the_hub_turns() -> None:
    _seed_hub()
    proc = hearthvox_cli("telemetry", "summary", "--since", "all", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["turns"] == 7 and data["outcomes"]["shed"] == 1  # the whole as before
    assert list(data["areas"]) == ["den", "kitchen"]  # as many turns: by name
    assert data["areas_left_out"] == {"areas": 0, "turns": 0}
    kitchen, den = data["areas"]["kitchen"], data["areas"]["den"]
    assert kitchen["turns"] == 3 and kitchen["outcomes"] == {"answered": 2, "shed": 1}
    assert kitchen["arbitration"] == {"won": 2, "stood_down": 0}
    assert den["outcomes"] == {"answered": 1, "no_speech": 1, "stood_down": 1}
    assert den["arbitration"] == {"won": 1, "stood_down": 1}
    for entry, values in ((kitchen, KITCHEN_ASR), (den, DEN_ASR)):
        asr = entry["stages"]["asr"]
        own, queued = [v[0] for v in values], [v[1] for v in values]
        assert asr["n"] == len(values) and asr["queue"]["n"] == len(values)
        for q in (50, 95):
            assert asr[f"p{q}_ms"] == pytest.approx(np.percentile(own, q), abs=0.051)
            assert asr["queue"][f"p{q}_ms"] == pytest.approx(np.percentile(queued, q), abs=0.051)
        assert "p99_ms" not in asr
    assert kitchen["stages"]["asr"]["p95_ms"] == pytest.approx(484.0)
    assert den["stages"]["end_of_speech_to_first_audio"]["n"] == 3

    text = hearthvox_cli("telemetry", "summary", "--since", "all").stdout
    part = text[text.index("per area (hub): 2 areas") :].splitlines()
    at = part.index("kitchen: 3 turns · answered 2 · shed 1 · arbitration: won 2, stood down 0")
    assert part[at + 1].split() == "stage (ms) n own: p50 p95 queued: p50 p95".split()
    asr_line = next(x for x in part[at + 2 :] if x.startswith("  speech recognition"))
    assert asr_line.split()[-5:] == ["3", "340.0", "484.0", "12.0", "73.2"]
    assert part[1] == (
        "den: 3 turns · answered 1 · no_speech 1 · stood_down 1 · arbitration: won 1, stood down 1"
    )
    assert "left out" not in text


def _samples(prom: str, family: str, *labels: str) -> dict[tuple[str, ...], float]:
    """A family's samples (counters: their ``_total``), by the values of ``labels``."""
    found = {f.name: f for f in text_string_to_metric_families(prom)}[family]
    return {
        tuple(s.labels[name] for name in labels): s.value
        for s in found.samples
        if found.type != "counter" or s.name.endswith("_total")
    }


def test_prometheus_export_per_area_of_the_hub_turns() -> None:
    _seed_hub()
    proc = hearthvox_cli("telemetry", "export", "--format", "prometheus", "--since", "all")
    assert proc.returncode == 0, proc.stderr
    turns = _samples(proc.stdout, "hearthvox_area_turns", "area", "outcome")
    assert turns == {
        ("kitchen", "answered"): 2.0,
        ("kitchen", "shed"): 1.0,
        ("den", "answered"): 1.0,
        ("den", "no_speech"): 1.0,
        ("den", "stood_down"): 1.0,
    }  # the turn of `hearthvox run` (no area) is in no area
    arbitration = _samples(proc.stdout, "hearthvox_area_arbitration", "area", "result")
    assert arbitration[("kitchen", "won")] == 2.0 and arbitration[("den", "stood_down")] == 1.0
    quant = _samples(
        proc.stdout, "hearthvox_area_stage_quantile_seconds", "area", "stage", "part", "quantile"
    )
    assert quant[("kitchen", "asr", "compute", "0.95")] == pytest.approx(0.484)
    queued = [v[1] for v in KITCHEN_ASR]
    assert quant[("kitchen", "asr", "queue", "0.5")] == pytest.approx(
        np.percentile(queued, 50) / 1000, abs=1e-4
    )
    assert not any(key[3] == "0.99" for key in quant)  # p50 and p95 per area
    assert _samples(proc.stdout, "hearthvox_areas_left_out", "what") == {
        ("areas",): 0.0,
        ("turns",): 0.0,
    }


def test_summary_of_many_areas_names_the_busiest_and_counts_the_rest() -> None:
    records = [_hub(f"room-{i:02d}", "answered", None, None) for i in range(40)]
    records += [_hub("attic", "answered", None, None)] * 3  # the busiest
    _seed_turns(records)
    data = json.loads(hearthvox_cli("telemetry", "summary", "--since", "all", "--json").stdout)
    assert len(data["areas"]) == 32 and next(iter(data["areas"])) == "attic"
    assert data["areas"]["attic"]["turns"] == 3
    assert data["areas_left_out"] == {"areas": 9, "turns": 9}
    text = hearthvox_cli("telemetry", "summary", "--since", "all").stdout
    assert "per area (hub): 41 areas" in text
    assert sum(1 for x in text.splitlines() if re.match(r"[\w.:-]+: \d+ turns · ", x)) == 32
    assert "... and 9 more areas (9 turns) left out" in text
    prom = hearthvox_cli("telemetry", "export", "--format", "prometheus", "--since", "all").stdout
    assert (
        len({area for area, _ in _samples(prom, "hearthvox_area_turns", "area", "outcome")}) == 32
    )
    assert _samples(prom, "hearthvox_areas_left_out", "what") == {("areas",): 9.0, ("turns",): 9.0}


NO_AREAS_TEXT = """\
bundle default-0.1.0 · profile x86-avx2

stage (ms)                        n   own: p50     p95     p99  queued: p50     p95     p99
speech recognition                3      320.0   401.0   408.2        1.5     8.2     8.8
end of speech to first audio      4      800.0  1410.0  1482.0          -       -       -

outcomes: answered 2 · error 1 · no_speech 1
false-wake proxy: 1 of 4 wakes had no speech (25%)
errors: asr:engine_error 1
cold start (process start to ready): p50 2.10 s, models p50 1.50 s, 1 starts
memory: RSS 500 MiB at the last turn, 500 MiB max; CPU per turn p50 420 ms

end of speech to first audio (ms):
       0 - 200    | ############################## 1
     200 - 400    |                                0
     400 - 600    |                                0
     600 - 800    | ############################## 1
     800 - 1000   | ############################## 1
    1000 - 1200   |                                0
    1200 - 1400   |                                0
    1400 - 1600   | ############################## 1
"""
"""What ``telemetry summary`` printed for this store before the hub recorded (schema 3)."""


def test_a_store_without_areas_gives_the_summary_it_gave_before() -> None:
    asr = [(300.0, 0.5), (320.0, 1.5), (None, None), (410.0, 9.0)]
    outcomes = ["answered", "answered", "no_speech", "error"]
    path = _seed_turns(
        [
            turn(ms, outcome=o, asr=a)
            for ms, o, a in zip([700.0, 900.0, 0.0, 1500.0], outcomes, asr, strict=True)
        ]
    )
    store = TelemetryStore(path)
    store.add_start({"command": "run", "cold_start_ms": 2100.0, "models_ms": 1500.0})
    store.close()
    proc = hearthvox_cli("telemetry", "summary", "--since", "all")
    assert proc.returncode == 0, proc.stderr
    first, rest = proc.stdout.split("\n", 1)
    assert first == f"telemetry: 4 turns, 1 starts in all recorded time ({path})"
    assert rest == NO_AREAS_TEXT
    data = json.loads(hearthvox_cli("telemetry", "summary", "--since", "all", "--json").stdout)
    assert set(data) == {
        *("bundles", "cold_start", "cpu_per_turn", "error_rate", "errors", "false_wake_rate"),
        *("false_wakes", "first_audio_histogram", "llm", "models_load", "outcomes", "path"),
        *("profiles", "rss_mb", "stages", "starts", "turns", "wakes", "window", "dropped"),
    }
