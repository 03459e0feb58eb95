"""ONNX Runtime session construction shared by the engines.

Every session lives in the process's one ONNX Runtime environment, with a fixed
intra-op thread budget, one inter-op thread, and no spinning when it has more
than one thread (idle listening must not burn a core). No session keeps ONNX
Runtime's memory arena: an arena keeps whatever its largest runs needed for the
life of the process, and Piper's grew in steps over an hour of replies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hearthvox.errors import ModelError


def cpu_session(path: Path, threads: int) -> Any:
    """A CPU inference session with a fixed thread budget, no memory arena and quiet
    logging."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.enable_cpu_mem_arena = False
    if threads > 1:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load ONNX model {path}: {exc}") from exc
