"""ONNX Runtime session construction shared by the engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hearthvox.errors import ModelError


def cpu_session(path: Path, threads: int) -> Any:
    """A CPU inference session with a fixed thread budget and quiet logging."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load ONNX model {path}: {exc}") from exc
