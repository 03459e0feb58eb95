"""A malformed matrix is refused with an error that names the spot and says what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearthvox.compat import Probe, load_matrix, parse_matrix, probe, select_profile
from hearthvox.compat.schema import covers, never_matches
from hearthvox.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"

MINI = """
schema_version: 1
defaults:
  wake: {models: [hey_jarvis], threads: 1}
  vad: {threads: 1}
  asr: {model: asr/whisper-tiny.en, device: cpu, compute_type: int8, beam_size: 1, threads: 1}
  tts: {voice: en_US-joe-medium, threads: 1}
profiles:
  - id: pi4
    match: {board: ["Raspberry Pi 4"], min_cores: 4, cuda: false}
    variants: {asr: {beam_size: 2}}
    verified:
      - bundle: default
        version: 0.1.0
        date: 2025-01-31
        device: Raspberry Pi 4 Model B Rev 1.4
        runtime: {ctranslate2: "4.5.0"}
        figures: {asr_rtf: 0.9, tts_first_audio_ms: 480, peak_rss_mb: 610}
    known_bad:
      - {runtime: {onnxruntime: "==1.21.0"}, reason: dies on import}
  - id: jetson
    match: {l4t: true, cuda: true}
  - id: any
    match: {}
"""


def _probe(name: str, cuda: int = 0) -> Probe:
    return probe(FIXTURES / name, onnx_providers=["CPUExecutionProvider"], cuda_devices=cuda)


def test_the_mini_matrix_is_valid() -> None:
    matrix = parse_matrix(MINI, "<mini>")
    pi4 = matrix.profile("pi4")
    assert pi4.verified[0].date == "2025-01-31"  # YAML's date, kept as text
    assert pi4.verified[0].figures == {"asr_rtf": 0.9, "tts_first_audio_ms": 480.0,
                                       "peak_rss_mb": 610.0}  # fmt: skip
    assert pi4.known_bad[0].runtime == {"onnxruntime": "==1.21.0"}
    assert select_profile(_probe("rpi4"), matrix).variants["asr"]["beam_size"] == 2
    assert select_profile(_probe("jetson-orin-nano", cuda=1), matrix).profile == "jetson"
    assert select_profile(_probe("x86-avx2"), matrix).profile == "any"


def _edit(old: str, new: str) -> str:
    assert old in MINI, old
    return MINI.replace(old, new, 1)


FALLBACK = "  - id: any\n    match: {}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("schema_version: 1\n  bad: [", "<t> is not valid YAML"),
        ("- 1\n- 2\n", "<t>: the top level: expected a mapping, got list"),
        ("schema_version: 2\n", "<t>: schema_version is 2; this hearthvox reads schema_version: 1"),
        (_edit("schema_version: 1", "schema_version: 1\nprofile: []"),
         "<t>: unknown key(s) profile (known: defaults, profiles, schema_version)"),
        (_edit("  tts: {voice: en_US-joe-medium, threads: 1}\n", ""),
         "<t>: defaults lack stage(s) tts"),
        (_edit("min_cores: 4", "min_ram: 4"),
         "<t>: profile 'pi4'.match: unknown key(s) min_ram (known: arch, board, cuda, flags, "
         "l4t, max_mem_mb, min_cores, min_mem_mb, providers)"),
        (_edit("asr: {beam_size: 2}", "nlu: {x: 1}"),
         "<t>: profile 'pi4'.variants: unknown stage 'nlu' (stages: wake, vad, asr, tts, "
         "endpoint, llm)"),
        (_edit("asr: {beam_size: 2}", "llm: {model: big.gguf}"),
         "<t>: profile 'pi4'.variants.llm: model is the user's choice"),
        (_edit("asr: {beam_size: 2}", "llm: {backend: openai, url: 'http://10.0.0.9/v1'}"),
         "<t>: profile 'pi4'.variants.llm: backend is the user's choice"),
        (_edit("asr: {beam_size: 2}", "llm: {context_tokens: 0}"),
         "<t>: profile 'pi4'.variants.llm: [llm] context_tokens must be"),
        (_edit("asr: {beam_size: 2}", "asr: {beam: 2}"),
         "<t>: profile 'pi4'.variants.asr: unknown key [asr] 'beam'"),
        (_edit("asr: {beam_size: 2}", "asr: {threads: four}"),
         "<t>: profile 'pi4'.variants.asr: [asr] threads must be an integer, got 'four'"),
        (_edit("asr: {beam_size: 2}", "asr: {threads: 0}"),
         "<t>: profile 'pi4'.variants.asr: [asr] threads must be greater than 0 and at most 64, "
         "got 0"),
        (_edit("asr: {beam_size: 2}", "asr: {device: gpu}"),
         "<t>: profile 'pi4'.variants.asr: [asr] device = 'gpu': must be one of 'cpu', 'cuda', "
         "'auto'"),
        (_edit("asr: {beam_size: 2}", "asr: {compute_type: int4}"),
         "<t>: profile 'pi4'.variants.asr.compute_type: 'int4' is not a CTranslate2 compute type"),
        (_edit("asr: {beam_size: 2}", "asr: {model: asr/whisper-base.en}"),
         "<t>: profile 'pi4'.variants.asr: ASR model 'asr/whisper-base.en' is not in "
         "hearthvox/data/models.lock (packaged) (it has: asr/whisper-base, asr/whisper-tiny.en)"),
        (_edit("asr: {beam_size: 2}", "tts: {voice: en_GB-alba-medium}"),
         "<t>: profile 'pi4'.variants.tts: voice 'en_GB-alba-medium' is not in "
         "hearthvox/data/models.lock (packaged) (it has: en_US-joe-medium)"),
        (_edit("wake: {models: [hey_jarvis]", "wake: {models: [ok_nabu]"),
         "<t>: defaults.wake: wake model 'ok_nabu' is not in hearthvox/data/models.lock "
         "(packaged) (it has: alexa, hey_jarvis, hey_mycroft)"),
        (_edit("min_cores: 4", "min_cores: 0"),
         "<t>: profile 'pi4'.match.min_cores: must be at least 1, got 0"),
        (_edit("l4t: true", "l4t: yes please"),
         "<t>: profile 'jetson'.match.l4t: expected true or false, got 'yes please'"),
        (_edit("match: {l4t: true, cuda: true}", "match: {arch: [x86-64]}"),
         "<t>: profile 'jetson'.match: can never match: arch 'x86-64' is not one the probe "
         "reports"),
        (_edit("match: {l4t: true, cuda: true}", "match: {flags: [avx-2]}"),
         "<t>: profile 'jetson'.match: can never match: flag 'avx-2' is never reported"),
        (_edit("match: {l4t: true, cuda: true}", "match: {arch: [x86_64], flags: [asimd]}"),
         "<t>: profile 'jetson'.match: can never match: flag 'asimd' does not exist on x86_64"),
        (_edit("match: {l4t: true, cuda: true}", "match: {arch: [x86_64], l4t: true}"),
         "<t>: profile 'jetson'.match: can never match: NVIDIA Jetson Linux (l4t: true) never "
         "runs on x86"),
        (_edit("match: {l4t: true, cuda: true}", "match: {min_mem_mb: 4000, max_mem_mb: 2000}"),
         "<t>: profile 'jetson'.match: can never match: min_mem_mb 4000 is above max_mem_mb 2000"),
        (_edit("match: {l4t: true, cuda: true}",
               "match: {board: ['Raspberry Pi 4 Model B'], min_cores: 4, cuda: false}"),
         "<t>: profile 'jetson' can never match: 'pi4' comes first and matches every device it "
         "would"),
        (MINI + "  - id: late\n    match: {arch: [aarch64]}\n",
         "<t>: profile 'late' can never match: 'any' comes first"),
        (MINI.replace(FALLBACK, ""),
         "<t>: the last profile ('jetson') must be a fallback with an empty match"),
        (_edit("id: jetson", "id: pi4"), "<t>: profile id 'pi4' is used twice"),
        (_edit("  - id: jetson\n", "  - {}\n  - id: jetson\n"),
         "<t>: profile #2.id: expected a non-empty string (quote it), got None"),
        (_edit("reason: dies on import", "why: dies on import"),
         "<t>: profile 'pi4'.known_bad[0]: unknown key(s) why"),
        (_edit(", reason: dies on import", ""),
         "<t>: profile 'pi4'.known_bad[0]: 'reason' is required"),
        (_edit('"==1.21.0"', '"about 1.21"'),
         "<t>: profile 'pi4'.known_bad[0].runtime.onnxruntime: 'about 1.21' is not a version "
         "specifier"),
        (_edit('{runtime: {onnxruntime: "==1.21.0"}, ', "{"),
         "<t>: profile 'pi4'.known_bad[0]: names no bundle, version or runtime"),
        (_edit("        device: Raspberry Pi 4 Model B Rev 1.4\n", ""),
         "<t>: profile 'pi4'.verified[0]: 'device' is required"),
        (_edit("asr_rtf: 0.9", "wer: 0.1"),
         "<t>: profile 'pi4'.verified[0].figures: unknown key(s) wer"),
        (_edit("asr_rtf: 0.9", "asr_rtf: fast"),
         "<t>: profile 'pi4'.verified[0].figures.asr_rtf: expected a number >= 0, got 'fast'"),
        (_edit('{ctranslate2: "4.5.0"}', "{ctranslate2: 4.5}"),
         "<t>: profile 'pi4'.verified[0].runtime.ctranslate2: expected a non-empty string "
         "(quote it), got 4.5"),
        (_edit("    verified:\n", "    verified: yes\n    x:\n"),
         "<t>: profile 'pi4': unknown key(s) x"),
    ],
)  # fmt: skip
def test_a_malformed_matrix_gives_a_precise_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_matrix(text, "<t>")
    assert str(info.value).startswith(message), str(info.value)


def test_a_malformed_file_names_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "compat_matrix.yaml"
    bad.write_text(_edit("min_cores: 4", "min_cores: -1"))
    with pytest.raises(ConfigError, match=f"^{bad}: profile 'pi4'.match.min_cores: must be"):
        load_matrix(bad)
    with pytest.raises(ConfigError, match="cannot read compatibility matrix"):
        load_matrix(tmp_path / "missing.yaml")


def test_shadowing_rules() -> None:
    from hearthvox.compat import Match

    assert covers(Match(), Match(arch=("x86_64",)))
    assert covers(Match(arch=("x86_64", "amd64")), Match(arch=("x86_64",), flags=("avx2",)))
    assert not covers(Match(arch=("x86_64",)), Match(arch=("x86_64", "amd64")))
    assert not covers(Match(flags=("avx2",)), Match(arch=("x86_64",)))
    assert covers(Match(board=("Raspberry Pi",)), Match(board=("Raspberry Pi 4",)))
    assert not covers(Match(board=("Raspberry Pi 4",)), Match(board=("Raspberry Pi",)))
    assert covers(Match(min_mem_mb=1000), Match(min_mem_mb=2000))
    assert not covers(Match(min_mem_mb=2000), Match(min_mem_mb=1000))
    assert not covers(Match(l4t=True), Match())
    assert never_matches(Match(arch=("aarch64",), flags=("asimd", "atomics"))) is None
