"""Property-based fuzzing of what the CLI reads: config.toml, and the JSON of the timers
file and the batch manifest.

A config is loaded or refused with one :class:`ConfigError` line (exit status 2); a loaded
config holds only finite numbers inside their documented ranges. Files the daemon wrote
itself but someone may have edited are read or set aside, never a traceback.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hearthvox import config as config_mod
from hearthvox.config_ranges import RANGES
from hearthvox.errors import ConfigError

EXAMPLES = 200
RSS_GROWTH_MB = 300  # over the process's peak before the first example: a config never grows it


@functools.cache
def _peak_before_mb() -> float:
    """The test process's peak RSS when the first example ran (earlier tests set it)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_KNOWN = {
    section: [f.name for f in dataclasses.fields(type(getattr(config_mod.Config(), section)))]
    for section in config_mod._sections()
}

_numbers = (
    st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, -1, 1, 2, 3, 16000, 8000, 100000, 1e6, 1e-9, 0.5, 65])
)
_scalars = _numbers | st.booleans() | st.text(max_size=40) | st.sampled_from(["", "..", "/etc"])
_values = (
    _scalars
    | st.lists(_scalars, max_size=4)
    | st.dictionaries(st.text(max_size=8), _scalars, max_size=3)
)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for everything json escapes
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


@st.composite
def configs(draw: st.DrawFn) -> str:
    lines = []
    sections = draw(st.lists(st.sampled_from([*_KNOWN, "nope"]), max_size=4, unique=True))
    for section in sections:
        lines.append(f"[{section}]")
        keys = _KNOWN.get(section, []) + ["unknown_key"]
        for key in draw(st.lists(st.sampled_from(keys), max_size=4, unique=True)):
            lines.append(f"{key} = {_toml_value(draw(_values))}")
    return "\n".join(lines) + "\n"


def _load(text: str | bytes) -> config_mod.Config | ConfigError:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "replace"))
        try:
            return config_mod.load(path)
        except ConfigError as exc:
            return exc


def _check(result: config_mod.Config | ConfigError) -> None:
    peak = _peak_before_mb()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 < peak + RSS_GROWTH_MB
    if isinstance(result, ConfigError):
        message = str(result)
        assert message and "\n" not in message and len(message) < 1000
        return
    for (section, key), allowed in RANGES.items():
        value = getattr(getattr(result, section), key)
        assert allowed.allows(value), (section, key, value)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
@example("[asr]\nthreads = 100000\n")  # segfaulted CTranslate2
@example("[tts]\nlength_scale = 1e6\n")  # 24 GB, killed by the kernel
@example("[audio]\nrate_hz = nan\nchunk_ms = -5\n")
@example("[endpoint]\nmax_utterance_s = inf\n")
@example("[eval.slices.x]\nwer_max_rise = nan\n")
def test_any_config_loads_in_range_or_is_refused_in_one_line(text: str) -> None:
    _check(_load(text))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.binary(max_size=512) | st.text(max_size=512))
@example(b"a = " + b"[" * 5000 + b"]" * 5000)  # nesting past the recursion limit
@example(b"\xff\xfe[audio]\n")
def test_any_bytes_as_config_are_loaded_or_refused(raw: str | bytes) -> None:
    _check(_load(raw))


@settings(max_examples=60, deadline=None)
@given(
    st.recursive(
        _scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=12
    )
)
@example({"version": 1, "next_id": "x", "timers": [{"id": None}]})
@example({"version": 1, "next_id": 10**30, "timers": []})
@example([1, 2])
def test_any_timers_file_is_read_or_set_aside(doc: Any) -> None:
    from hearthvox.skills.base import SystemClock
    from hearthvox.skills.timer_store import TimerStore

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "timers.json"
        path.write_text(json.dumps(doc, allow_nan=True), encoding="utf-8")
        store = TimerStore(path, SystemClock())
        assert all(math.isfinite(t.duration_s) for t in store.timers())
        store.add(60.0, "tea")  # and it still works


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=60) | st.builds(json.dumps, _values), max_size=6))
def test_any_batch_manifest_is_read(lines: list[str]) -> None:
    from hearthvox.batch.manifest import MANIFEST, Manifest

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / MANIFEST).write_text("\n".join(lines), encoding="utf-8", errors="replace")
        with Manifest(Path(tmp)) as manifest:
            assert manifest.get("nothing-like-this") is None


def test_a_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[tts]\nlength_scale = nan\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "hearthvox", "say", "hi", "-o", str(tmp_path / "x.wav"),
         "--config", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "[tts] length_scale must be from 0.25 to 4, got nan" in proc.stderr
    assert not (tmp_path / "x.wav").exists()


_areas = st.sampled_from(["kitchen", "den", "living room"]) | st.text(max_size=40)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"uri": st.sampled_from(["tcp://a:1", "tcp://b:2", "tcp://c:3", "udp://x:1"])},
            optional={"area": _areas, "hears": _values | st.lists(_areas, max_size=40)},
        ),
        max_size=5,
    )
)
def test_hub_satellites_with_any_hears_load_or_refuse_in_one_line(tables: list[Any]) -> None:
    """``[[hub.satellites]]`` with any ``hears``: refused with one ConfigError, or loaded
    with each ``hears`` a bounded list of the listed satellites' areas."""
    try:
        cfg = config_mod.from_dict({"hub": {"satellites": tables}})
    except ConfigError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 500
        return
    areas = {e.area for e in cfg.hub.satellites}
    for entry in cfg.hub.satellites:
        assert entry.hears is None or (
            len(entry.hears) <= config_mod.MAX_SATELLITES and set(entry.hears) <= areas
        )
