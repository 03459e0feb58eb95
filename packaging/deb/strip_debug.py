"""Drop the debug sections of every shared library under a directory (``strip
--strip-debug``), keeping only the stripped copies that still load; prints the bytes saved.

    python3 packaging/deb/strip_debug.py SITE_PACKAGES

Run by packaging/deb/build on the machine's own architecture and Python: each stripped
library is opened with ctypes in a fresh interpreter, and one that fails to load (some
auditwheel-patched ELF files do not survive strip) is put back as it was.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

_LOADS = "import ctypes, sys; ctypes.CDLL(sys.argv[1])"


def _loads(path: Path) -> bool:
    proc = subprocess.run([sys.executable, "-c", _LOADS, str(path)], capture_output=True)
    return proc.returncode == 0


def strip_debug(root: Path) -> int:
    saved = 0
    for path in sorted(root.rglob("*.so*")):
        if path.is_symlink() or not path.is_file():
            continue
        if not (path.name.endswith(".so") or ".so." in path.name):
            continue
        before = path.stat().st_size
        original = path.with_name(path.name + ".unstripped")
        shutil.copy2(path, original)
        stripped = subprocess.run(["strip", "--strip-debug", str(path)], capture_output=True)
        if stripped.returncode == 0 and path.stat().st_size < before and _loads(path):
            saved += before - path.stat().st_size
            original.unlink()
        else:
            os.replace(original, path)
    return saved


if __name__ == "__main__":
    print(strip_debug(Path(sys.argv[1])))
