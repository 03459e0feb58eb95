"""llama-cpp-python, imported lazily (the ``[llm]`` extra), and what llama.cpp says at load.

llama.cpp reports what it allocates only in its log (the KV cache's size, the compute
buffers); :func:`llama_module` routes that log through one callback for the process,
which keeps the figures of the latest context created (:func:`last_load_report`) and
passes warnings and errors to Python logging. The log never holds a prompt or a reply.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from hearthvox.engines.openmp import passive_openmp
from hearthvox.errors import ModelError

log = logging.getLogger("hearthvox.llm")

EXTRA_HINT = "the LLM needs the llm extra: scripts/setup --llm (or pip install 'hearthvox[llm]')"

_MIB = 1024 * 1024
_KV = re.compile(
    r"llama_kv_cache: size = +(?P<mib>[\d.]+) MiB \( *(?P<cells>\d+) cells, +(?P<layers>\d+) "
    r"layers.*K \((?P<ktype>\w+)\): +(?P<k>[\d.]+) MiB, V \((?P<vtype>\w+)\): +(?P<v>[\d.]+) MiB"
)
_BUFFER = re.compile(r"(?P<what>compute|output) buffer size = +(?P<mib>[\d.]+) MiB")


@dataclass
class LoadReport:
    """What llama.cpp logged while it created a context (sizes in bytes, from MiB to 0.01)."""

    kv_bytes: int | None = None
    kv_cells: int | None = None
    kv_layers: int | None = None
    k_type: str = ""
    compute_bytes: int = 0
    output_bytes: int = 0
    lines: list[str] = field(default_factory=list)


_lock = threading.Lock()
_report = LoadReport()
_callback: Any = None
_module: Any = None


def _on_log(level: int, text: bytes | None, _user: object) -> None:
    line = (text or b"").decode("utf-8", errors="replace").rstrip()
    if not line:
        return
    if level in (3, 4):  # GGML_LOG_LEVEL_WARN, _ERROR (ggml.h: 2 is INFO, 5 continues a line)
        log.warning("llama.cpp: %s", line)
    else:
        log.debug("llama.cpp: %s", line)
    with _lock:
        if (m := _KV.search(line)) is not None:
            _report.kv_bytes = round(float(m["mib"]) * _MIB)
            _report.kv_cells = int(m["cells"])
            _report.kv_layers = int(m["layers"])
            _report.k_type = m["ktype"]
        elif (m := _BUFFER.search(line)) is not None:
            size = round(float(m["mib"]) * _MIB)
            if m["what"] == "compute":
                _report.compute_bytes += size
            else:
                _report.output_bytes += size
        if len(_report.lines) < 400:
            _report.lines.append(line)


def llama_module() -> Any:
    """``llama_cpp``, with its log routed here; a one-line ModelError when the extra is
    not installed (or its library does not load on this machine)."""
    global _module, _callback
    if _module is not None:
        return _module
    # llama.cpp's threads sleep at their OpenMP barriers (engines.openmp: measured there)
    with passive_openmp():
        try:
            module = importlib.import_module("llama_cpp")
        except ImportError as exc:
            raise ModelError(f"{EXTRA_HINT} ({exc})") from None
        except (OSError, RuntimeError) as exc:  # the shared library does not load
            raise ModelError(f"llama.cpp does not load here: {exc}; {EXTRA_HINT}") from None
    _callback = module.llama_log_callback(_on_log)  # kept: C holds only a pointer to it
    module.llama_log_set(_callback, ctypes.c_void_p(0))
    _module = module
    return module


def start_load_report() -> None:
    """Forget the figures of earlier loads (call before creating a context)."""
    global _report
    with _lock:
        _report = LoadReport()


def last_load_report() -> LoadReport:
    with _lock:
        return LoadReport(
            _report.kv_bytes,
            _report.kv_cells,
            _report.kv_layers,
            _report.k_type,
            _report.compute_bytes,
            _report.output_bytes,
            list(_report.lines),
        )
