"""hearthvox.batch: offline transcription of recordings, batched, resumable and idempotent.

``hearthvox transcribe PATH... --out-dir DIR`` (see docs/batch.md). The pieces:
discover (inputs and output names), decode (PyAV / WAV), chunking (VAD),
asr (batched Whisper on CTranslate2), outputs (json/txt/srt/vtt, atomic),
manifest (what is done, keyed by input sha256 + bundle fingerprint),
guard (yield to the live assistant), planning and records (what the local and the
cluster run share), runner (the run), bench (throughput); cluster and clusterwork
(the run on a Ray cluster: ``--ray``), raynodes (a Ray cluster on this machine),
clusterbench (its scaling).
"""

from hearthvox.batch.discover import Input, Missing, discover
from hearthvox.batch.guard import daemon_lock_path, daemon_running
from hearthvox.batch.manifest import MANIFEST, BusyError
from hearthvox.batch.outputs import FORMATS
from hearthvox.batch.progress import Progress
from hearthvox.batch.runner import BatchEngine, BatchRun, FileResult, RunOptions
from hearthvox.batch.settings import BatchSettings, Overrides, resolve

__all__ = [
    "FORMATS",
    "MANIFEST",
    "BatchEngine",
    "BatchRun",
    "BatchSettings",
    "BusyError",
    "FileResult",
    "Input",
    "Missing",
    "Overrides",
    "Progress",
    "RunOptions",
    "daemon_lock_path",
    "daemon_running",
    "discover",
    "resolve",
]
