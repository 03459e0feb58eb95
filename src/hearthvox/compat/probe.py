"""Hardware probe: what this device is, read from files so tests can feed real devices' files.

Everything is read under ``root`` (``/`` on a live system): ``proc/cpuinfo`` (not
py-cpuinfo), ``proc/meminfo`` (psutil on the live system when it is missing),
``proc/device-tree/model`` (or ``sys/firmware/devicetree/base/model``) and
``etc/nv_tegra_release``. Only the runtime facts (ONNX Runtime providers on a real
session, CTranslate2's CUDA devices and compute types) come from the installed libraries,
asked in a child process (:mod:`hearthvox.compat.accel`); callers may pass them in, as
tests do for a Jetson. :func:`current_probe` probes this device once per process.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import platform
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hearthvox.compat.accel import Accel, runtime_facts

# CPU features that decide model variants (x86 flags / ARM "Features").
FLAGS_OF_INTEREST: tuple[str, ...] = (
    "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512cd", "avx512vl",
    "avx512dq", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile",
    "neon", "asimd", "asimdhp", "asimddp", "atomics", "fphp", "i8mm", "bf16", "sve", "sve2",
)  # fmt: skip

# ARM "CPU implementer" 0x41 (Arm Ltd) part numbers -> core name, for boards whose
# cpuinfo carries no "model name".
_ARM_PARTS = {
    "0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55",
    "0xd07": "Cortex-A57", "0xd08": "Cortex-A72", "0xd09": "Cortex-A73",
    "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76", "0xd0c": "Neoverse-N1",
    "0xd0d": "Cortex-A77", "0xd40": "Neoverse-V1", "0xd41": "Cortex-A78",
    "0xd42": "Cortex-A78AE", "0xd44": "Cortex-X1", "0xd46": "Cortex-A510",
    "0xd47": "Cortex-A710", "0xd49": "Neoverse-N2", "0xd4f": "Neoverse-V2",
    "0xc07": "Cortex-A7", "0xc0f": "Cortex-A15",
}  # fmt: skip
_NVIDIA_PARTS = {"0x004": "NVIDIA Carmel"}


@dataclass(frozen=True)
class Probe:
    arch: str  # x86_64 | aarch64 | armv7l | ...
    cpu_model: str
    cores: int
    flags: tuple[str, ...]  # the FLAGS_OF_INTEREST this CPU has, sorted
    mem_total_mb: int | None
    mem_available_mb: int | None
    board: str | None  # "Raspberry Pi 4 Model B Rev 1.4", "NVIDIA Jetson Orin Nano ..."
    l4t_release: str | None  # Jetson Linux release from /etc/nv_tegra_release, "R36.3.0"
    onnx_providers: tuple[str, ...]  # what a real ONNX Runtime session got
    cuda_devices: int  # CTranslate2's CUDA device count
    cuda_error: str | None = None  # why the CUDA query failed, when it did
    onnx_listed: tuple[str, ...] = ()  # what ONNX Runtime lists (a listed one may not load)
    cpu_compute_types: tuple[str, ...] = ()  # CTranslate2's on the CPU; empty when unknown
    cuda_compute_types: tuple[str, ...] = ()
    runtime_crash: str | None = None  # a model runtime that dies on this CPU, and how

    def has(self, flag: str) -> bool:
        return flag in self.flags


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return None


def _cpuinfo_blocks(text: str) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Per-processor blocks, and the keys outside any processor block (ARM's Hardware/Model)."""
    blocks: list[dict[str, str]] = []
    extra: dict[str, str] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if ":" not in line:
            if not line.strip():
                current = None
            continue
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "processor" and value.isdigit():
            current = {}
            blocks.append(current)
        if current is None:
            extra[key] = value
        else:
            current[key] = value
    return blocks, extra


def _arch_from_cpuinfo(first: dict[str, str]) -> str:
    x86_flags = first.get("flags", "").split()
    if "vendor_id" in first or x86_flags:
        return "x86_64" if "lm" in x86_flags else "i686"  # lm: long mode, 64-bit
    arm = first.get("cpu architecture")
    if arm == "8" or "asimd" in first.get("features", "").split():
        return "aarch64"
    if arm is not None:
        return "armv7l"
    return "unknown"


def _cpu_model(first: dict[str, str], extra: dict[str, str]) -> str:
    name = first.get("model name") or first.get("cpu model") or ""
    if name and not name.startswith("ARMv"):  # "ARMv8 Processor rev 1 (v8l)" says little
        return name
    part = first.get("cpu part", "").lower()
    implementer = first.get("cpu implementer", "").lower()
    if implementer == "0x41" and part in _ARM_PARTS:
        return _ARM_PARTS[part]
    if implementer == "0x4e" and part in _NVIDIA_PARTS:
        return _NVIDIA_PARTS[part]
    if name:
        return name
    if part:
        return f"ARM implementer {implementer or '?'} part {part}"
    return extra.get("hardware", "unknown")


def _meminfo_mb(text: str) -> tuple[int | None, int | None]:
    values: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+):\s+(\d+)\s*kB", line)
        if m:
            values[m[1]] = int(m[2])
    total = values.get("MemTotal")
    available = values.get("MemAvailable", values.get("MemFree"))
    return (
        total // 1024 if total is not None else None,
        available // 1024 if available is not None else None,
    )


def _board(root: Path) -> str | None:
    for rel in ("proc/device-tree/model", "sys/firmware/devicetree/base/model"):
        text = _read(root / rel)
        if text:
            model = text.replace("\x00", "").strip()
            if model:
                return model
    return None


def _l4t_release(root: Path) -> str | None:
    text = _read(root / "etc/nv_tegra_release")
    if text is None:
        return None
    # "# R36 (release), REVISION: 3.0, GCID: ..., BOARD: generic, EABI: aarch64, ..."
    m = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    return f"R{m[1]}.{m[2]}" if m else "unknown"


def probe(
    root: Path = Path("/"),
    *,
    machine: str | None = None,
    onnx_providers: Sequence[str] | None = None,
    cuda_devices: int | None = None,
    accel: Accel | None = None,
) -> Probe:
    """Probe the device whose filesystem is at *root*.

    On the live system (``root == /``) the architecture is ``platform.machine()`` (the
    userland that runs us: a 32-bit OS on a 64-bit Pi says armv7l); under a fixture root
    it is read from cpuinfo. Runtime facts come from the libraries (in a child process)
    unless *accel*, or both *onnx_providers* and *cuda_devices*, are given.
    """
    live = root.resolve() == Path("/")
    cpuinfo = _read(root / "proc/cpuinfo") or ""
    blocks, extra = _cpuinfo_blocks(cpuinfo)
    first = blocks[0] if blocks else extra
    words = set((first.get("flags", "") + " " + first.get("features", "")).split())
    flags = tuple(sorted(f for f in FLAGS_OF_INTEREST if f in words))
    arch = machine or (platform.machine() if live else _arch_from_cpuinfo(first))
    if live and hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))  # what we may run on, not what the host has
    else:
        cores = len(blocks) or ((os.cpu_count() or 1) if live else 1)

    total: int | None
    available: int | None
    if live:
        import psutil

        vm = psutil.virtual_memory()
        total, available = vm.total // (1 << 20), vm.available // (1 << 20)
    else:
        meminfo = _read(root / "proc/meminfo")
        total, available = _meminfo_mb(meminfo) if meminfo else (None, None)

    cpu_model = _cpu_model(first, extra)
    board = _board(root)
    if board is None and extra.get("model"):  # Raspberry Pi OS puts it in cpuinfo too
        board = extra["model"]
    l4t = _l4t_release(root)
    if board is None and l4t is not None:
        board = f"NVIDIA Jetson (L4T {l4t})"

    if accel is None:
        if onnx_providers is not None and cuda_devices is not None:
            accel = Accel(tuple(onnx_providers), tuple(onnx_providers), cuda_devices)
        else:
            accel = runtime_facts()
    if onnx_providers is not None:
        accel = dataclasses.replace(accel, onnx_providers=tuple(onnx_providers))
    if cuda_devices is not None:
        accel = dataclasses.replace(accel, cuda_devices=cuda_devices, cuda_error=None)
    return Probe(
        arch=arch,
        cpu_model=cpu_model,
        cores=cores,
        flags=flags,
        mem_total_mb=total,
        mem_available_mb=available,
        board=board,
        l4t_release=l4t,
        onnx_providers=accel.onnx_providers,
        cuda_devices=accel.cuda_devices,
        cuda_error=accel.cuda_error,
        onnx_listed=accel.onnx_listed,
        cpu_compute_types=accel.cpu_compute_types,
        cuda_compute_types=accel.cuda_compute_types,
        runtime_crash=accel.crash,
    )


@functools.cache
def current_probe() -> Probe:
    """This device, probed once per process (the runtime facts cost a child process)."""
    return probe()
