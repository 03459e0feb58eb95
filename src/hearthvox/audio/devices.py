"""Sound devices through PortAudio (``sounddevice``), imported lazily.

File-only use must work on a machine without ``libportaudio2``, so nothing here
imports ``sounddevice`` at module level.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Literal

from hearthvox.errors import AudioDeviceError

Kind = Literal["input", "output"]

log = logging.getLogger(__name__)

PORTAUDIO_MISSING = (
    "the PortAudio library is not installed: install libportaudio2, "
    "e.g. `sudo apt-get install libportaudio2`"
)
SOUNDDEVICE_MISSING = (
    "the sounddevice package is not installed: `pip install sounddevice` and libportaudio2"
)
NO_MICROPHONE = (
    "no microphone found ({why}); run from a file with `hearthvox run --input FILE.wav` "
    "or try `hearthvox demo`"
)
NO_SPEAKER = (
    "no speaker found ({why}); write replies to a file with "
    "`hearthvox run --output FILE.wav`, or use `--output none`"
)


def _no_device(kind: Kind, why: str) -> AudioDeviceError:
    template = NO_MICROPHONE if kind == "input" else NO_SPEAKER
    return AudioDeviceError(template.format(why=why))


def import_sounddevice(kind: Kind) -> Any:
    """The ``sounddevice`` module, or AudioDeviceError saying how to get PortAudio."""
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when libportaudio is absent
        raise _no_device(kind, PORTAUDIO_MISSING) from exc
    except ImportError as exc:
        raise _no_device(kind, SOUNDDEVICE_MISSING) from exc
    return sounddevice


def _query(sd: Any, kind: Kind) -> tuple[list[dict[str, Any]], int]:
    """All devices as dicts, and PortAudio's default index for ``kind`` (-1: none)."""
    try:
        devices = [dict(d) for d in sd.query_devices()]
        default = sd.default.device[0 if kind == "input" else 1]
    except sd.PortAudioError as exc:
        raise _no_device(kind, f"PortAudio failed to list devices: {exc}") from exc
    for i, d in enumerate(devices):
        d.setdefault("index", i)
    return devices, int(default) if default is not None else -1


def pick_device(
    devices: list[dict[str, Any]], spec: str, kind: Kind, default_index: int = -1
) -> dict[str, Any]:
    """The device ``spec`` names: empty for the default, an index, or part of a name."""
    key = f"max_{kind}_channels"
    usable = [d for d in devices if d.get(key, 0) > 0]
    if not usable:
        raise _no_device(kind, f"PortAudio lists no {kind} device")
    spec = spec.strip()
    if not spec:
        return next((d for d in usable if d["index"] == default_index), usable[0])
    listing = "; ".join(f"{d['index']}: {d['name']}" for d in usable)
    if spec.isdigit():
        found = [d for d in usable if d["index"] == int(spec)]
    else:
        exact = [d for d in usable if d["name"].lower() == spec.lower()]
        found = exact or [d for d in usable if spec.lower() in d["name"].lower()]
    if not found:
        raise AudioDeviceError(
            f"no {kind} device matches {spec!r}; {kind} devices are: {listing} "
            "(give an index or part of a name, or leave it empty for the default)"
        )
    return found[0]


def find_device(spec: str, kind: Kind) -> tuple[Any, dict[str, Any]]:
    """(the sounddevice module, the chosen device) or AudioDeviceError."""
    sd = import_sounddevice(kind)
    devices, default = _query(sd, kind)
    return sd, pick_device(devices, spec, kind, default)


_generation = [0]
_stuck: list[Any] = []
"""Lost streams whose abort did not return (kept so that nothing closes them again)."""
RELEASE_WAIT_S = 0.5


def release_stream(stream: Any, what: str) -> None:
    """Abort and close a lost stream without ever blocking the caller for long.

    PortAudio's abort can hang on a stream whose sound server died (its ALSA
    thread is stuck in a poll on the dead socket), so it runs in a thread of its
    own; one that has not returned after ``RELEASE_WAIT_S`` is abandoned.
    """
    if stream is None:
        return

    def close() -> None:
        try:
            stream.abort()
            stream.close()
        except Exception as exc:  # a dead stream may fail to close; it is gone either way
            log.debug("closing the lost %s stream: %s", what, exc)

    worker = threading.Thread(target=close, name=f"hv-close-{what}", daemon=True)
    worker.start()
    worker.join(RELEASE_WAIT_S)
    if worker.is_alive():
        _stuck.append(stream)
        log.debug("the lost %s stream did not close; abandoned", what)


def streams_stuck() -> bool:
    """Whether a lost stream could not be closed (re-listing devices would hang on it)."""
    return bool(_stuck)


def portaudio_generation() -> int:
    """Bumped by :func:`refresh_portaudio`: a stream opened in an older generation is
    gone and must not be touched (PortAudio freed it)."""
    return _generation[0]


def refresh_portaudio() -> None:
    """Make PortAudio list the devices present now (a replugged headset, a restarted
    sound server). Every stream of this process is closed by it: callers reopen theirs."""
    sd = import_sounddevice("input")
    _generation[0] += 1
    try:
        # sounddevice's only way to re-enumerate devices is its private pair
        sd._terminate()
        sd._initialize()
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"PortAudio could not restart: {exc}") from exc


def list_devices() -> list[dict[str, Any]]:
    """Every device PortAudio lists: index, name, channels, default rate, defaults.

    Raises AudioDeviceError when PortAudio itself is missing.
    """
    sd = import_sounddevice("input")
    devices, default_in = _query(sd, "input")
    _, default_out = _query(sd, "output")
    return [
        {
            "index": d["index"],
            "name": d["name"],
            "max_input_channels": d.get("max_input_channels", 0),
            "max_output_channels": d.get("max_output_channels", 0),
            "default_samplerate": float(d.get("default_samplerate", 0.0)),
            "default_input": d["index"] == default_in,
            "default_output": d["index"] == default_out,
        }
        for d in devices
    ]


def have_input_device(device: str = "") -> bool:
    """Whether a microphone matching ``device`` (empty: any default) can be opened."""
    try:
        find_device(device, "input")
    except AudioDeviceError:
        return False
    return True


def have_output_device(device: str = "") -> bool:
    """Whether a speaker matching ``device`` (empty: any default) can be opened."""
    try:
        find_device(device, "output")
    except AudioDeviceError:
        return False
    return True
