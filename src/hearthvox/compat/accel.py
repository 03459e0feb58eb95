"""What the model runtimes can use on this device, asked in a child process.

ONNX Runtime's providers are checked on a real session's ``get_providers()`` (a listed
CUDA provider whose libraries are missing only warns, and the session runs on the CPU);
CTranslate2's CUDA device count and compute types are asked with the calls that raise
without a GPU guarded. It runs in a child process because a wheel built for a newer CPU
dies on import with SIGILL (an illegal instruction): the child dies, this process reports
which runtime did, and the bundle is refused instead of crashing the daemon.

``python -m hearthvox.compat.accel`` prints the facts as one JSON object.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_TIMEOUT_S = 120.0
_STEP = "step: "


@dataclass(frozen=True)
class Accel:
    onnx_providers: tuple[str, ...]  # what a real session got
    onnx_listed: tuple[str, ...]  # what onnxruntime.get_available_providers() lists
    cuda_devices: int
    cuda_error: str | None = None  # why the CUDA query failed, when it did
    cpu_compute_types: tuple[str, ...] = ()  # CTranslate2's, empty when unknown
    cuda_compute_types: tuple[str, ...] = ()
    crash: str | None = None  # a runtime that could not even be imported, and how


# ---------------------------------------------------------------- the child's side


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def identity_model() -> bytes:
    """A serialised ONNX model (opset 13, IR 7): ``y = Identity(x)``, x float[1]."""

    def value_info(name: bytes) -> bytes:
        shape = _field(2, _field(1, _field(1, 1)))  # TensorShapeProto: one dim of value 1
        tensor = _field(1, 1) + shape  # elem_type FLOAT
        return _field(1, name) + _field(2, _field(1, tensor))

    node = _field(1, b"x") + _field(2, b"y") + _field(4, b"Identity")
    graph = _field(1, node) + _field(2, b"probe") + _field(11, value_info(b"x"))
    graph += _field(12, value_info(b"y"))
    return _field(1, 7) + _field(7, graph) + _field(8, _field(1, b"") + _field(2, 13))


def session_providers(requested: Sequence[str]) -> list[str]:
    """The providers a real ONNX Runtime session ends up with when *requested* are asked for."""
    import warnings

    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # a provider that fails to load is a finding, not a log line
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Specified provider ... is not in available providers"
        session = ort.InferenceSession(
            identity_model(), sess_options=opts, providers=list(requested)
        )
    return [str(p) for p in session.get_providers()]


def _step(name: str) -> None:
    print(_STEP + name, flush=True)


def _facts(step: Callable[[str], None] = _step) -> dict[str, Any]:
    out: dict[str, Any] = {}
    step("import onnxruntime")
    import onnxruntime as ort

    listed = [str(p) for p in ort.get_available_providers()]
    step("onnxruntime session")
    wanted = [p for p in listed if p not in ("CPUExecutionProvider", "AzureExecutionProvider")]
    out["onnx_listed"] = listed
    out["onnx_providers"] = session_providers([*wanted, "CPUExecutionProvider"])
    step("import ctranslate2")
    import ctranslate2

    step("ctranslate2 devices")
    try:
        out["cuda_devices"] = int(ctranslate2.get_cuda_device_count())
    except Exception as exc:  # no driver, an old driver: CUDA is just absent
        out["cuda_devices"], out["cuda_error"] = 0, f"{type(exc).__name__}: {exc}"
    out["cpu_compute_types"] = sorted(ctranslate2.get_supported_compute_types("cpu"))
    if out["cuda_devices"] > 0:
        try:
            out["cuda_compute_types"] = sorted(ctranslate2.get_supported_compute_types("cuda"))
        except Exception as exc:  # raised for a GPU CTranslate2 cannot use
            out["cuda_devices"], out["cuda_error"] = 0, f"{type(exc).__name__}: {exc}"
    return out


def main() -> None:
    print(json.dumps(_facts()), flush=True)


# ---------------------------------------------------------------- the parent's side


def _died(returncode: int, step: str | None) -> str:
    where = f" at '{step}'" if step else ""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        what = " (an illegal instruction: built for a newer CPU)" if name == "SIGILL" else ""
        return f"the runtime check died with {name}{what}{where}"
    return f"the runtime check exited with status {returncode}{where}"


def runtime_facts(timeout_s: float = _TIMEOUT_S) -> Accel:
    """Ask a child Python what ONNX Runtime and CTranslate2 can use here."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "hearthvox.compat.accel"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Accel((), (), 0, None, crash=f"the runtime check took over {timeout_s:g} s")
    lines = proc.stdout.splitlines()
    steps = [line[len(_STEP) :] for line in lines if line.startswith(_STEP)]
    if not steps:  # the child never reached the runtimes (hearthvox itself failed to start
        return _accel(_facts(lambda _name: None))  # there): ask in this process instead
    if proc.returncode != 0 or lines[-1].startswith(_STEP):
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        crash = _died(proc.returncode, steps[-1])
        return Accel((), (), 0, None, crash=f"{crash}: {last}" if last else crash)
    return _accel(json.loads(lines[-1]))


def _accel(data: dict[str, Any]) -> Accel:
    return Accel(
        onnx_providers=tuple(data["onnx_providers"]),
        onnx_listed=tuple(data["onnx_listed"]),
        cuda_devices=int(data["cuda_devices"]),
        cuda_error=data.get("cuda_error"),
        cpu_compute_types=tuple(data.get("cpu_compute_types", ())),
        cuda_compute_types=tuple(data.get("cuda_compute_types", ())),
    )


if __name__ == "__main__":
    main()
