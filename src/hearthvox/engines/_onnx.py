"""ONNX Runtime session construction shared by the engines.

Every session lives in the process's one ONNX Runtime environment, with a fixed
intra-op thread budget, one inter-op thread, and no spinning when it has more
than one thread (idle listening must not burn a core). The small streaming
models (wake word, VAD) run without the memory arena: their tensors are tiny,
and an arena keeps whatever its largest run needed for the life of the process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hearthvox.errors import ModelError


def cpu_session(path: Path, threads: int, *, arena: bool = False) -> Any:
    """A CPU inference session with a fixed thread budget and quiet logging;
    ``arena``: keep ONNX Runtime's memory arena (worth it for large models only)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.enable_cpu_mem_arena = arena
    if threads > 1:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load ONNX model {path}: {exc}") from exc
