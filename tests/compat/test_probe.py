"""The probe on fixture roots (device files written in the documented formats) and live."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from hearthvox.compat import Probe, current_probe, probe
from hearthvox.compat import accel as accel_mod
from hearthvox.compat.accel import Accel, identity_model, runtime_facts, session_providers

FIXTURES = Path(__file__).parent / "fixtures"


def _probe(root: Path) -> Probe:
    return probe(root, onnx_providers=["CPUExecutionProvider"], cuda_devices=0)


def test_x86_development_host() -> None:
    p = _probe(FIXTURES / "x86-avx2")
    assert p.arch == "x86_64"
    assert p.cpu_model == "AMD EPYC"
    assert p.cores == 2
    assert {"avx2", "avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw", "fma"} <= set(
        p.flags
    )
    assert "lm" not in p.flags  # only flags of interest are kept
    assert p.mem_total_mb == 24684084 // 1024
    assert p.mem_available_mb == 24302564 // 1024
    assert p.board is None and p.l4t_release is None
    assert p.onnx_providers == ("CPUExecutionProvider",)


def test_x86_laptop() -> None:
    p = _probe(FIXTURES / "x86-laptop")
    assert (p.arch, p.cores) == ("x86_64", 8)
    assert p.cpu_model == "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz"
    assert {"avx", "avx2", "fma", "f16c", "sse4_2"} <= set(p.flags)
    assert not any(f.startswith("avx512") for f in p.flags)
    assert p.mem_total_mb == 7995412 // 1024


def test_old_x86_without_avx() -> None:
    p = _probe(FIXTURES / "x86-noavx2")
    assert p.arch == "x86_64"
    assert "Celeron" in p.cpu_model
    assert "avx2" not in p.flags and "avx" not in p.flags
    assert {"sse4_1", "sse4_2"} <= set(p.flags)


def test_raspberry_pi_4() -> None:
    p = _probe(FIXTURES / "rpi4")
    assert p.arch == "aarch64"
    assert p.cpu_model == "Cortex-A72"
    assert p.cores == 4
    assert p.flags == ("asimd",)  # ARMv8.0: no dot product, no LSE atomics
    assert p.board == "Raspberry Pi 4 Model B Rev 1.4"  # the trailing NUL is gone
    assert p.l4t_release is None
    assert p.mem_total_mb == 7997356 // 1024


def test_raspberry_pi_5() -> None:
    p = _probe(FIXTURES / "rpi5")
    assert (p.arch, p.cpu_model, p.cores) == ("aarch64", "Cortex-A76", 4)
    assert {"asimd", "asimddp", "asimdhp", "atomics", "fphp"} <= set(p.flags)
    assert p.board == "Raspberry Pi 5 Model B Rev 1.0"


def test_raspberry_pi_without_device_tree_uses_cpuinfo_model(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_bytes((FIXTURES / "rpi5/proc/cpuinfo").read_bytes())
    assert _probe(tmp_path).board == "Raspberry Pi 5 Model B Rev 1.0"


def test_jetson_orin_nano() -> None:
    p = probe(FIXTURES / "jetson-orin-nano", onnx_providers=[], cuda_devices=1)
    assert p.arch == "aarch64"
    assert p.cpu_model == "Cortex-A78AE"  # not the uninformative "ARMv8 Processor rev 1"
    assert p.cores == 6
    assert {"asimd", "asimddp", "asimdhp", "fphp"} <= set(p.flags)
    assert p.board == "NVIDIA Jetson Orin Nano Developer Kit"
    assert p.l4t_release == "R36.3.0"
    assert p.cuda_devices == 1


def test_jetson_without_device_tree_is_still_named(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    release = FIXTURES / "jetson-orin-nano/etc/nv_tegra_release"
    (tmp_path / "etc/nv_tegra_release").write_text(release.read_text())
    assert _probe(tmp_path).board == "NVIDIA Jetson (L4T R36.3.0)"


def test_aarch64_server() -> None:
    p = _probe(FIXTURES / "aarch64-server")
    assert (p.arch, p.cpu_model, p.cores) == ("aarch64", "Neoverse-N1", 16)
    assert p.board is None  # ACPI servers have no device tree
    assert p.mem_total_mb == 65023236 // 1024


def test_empty_root_degrades_gracefully(tmp_path: Path) -> None:
    p = _probe(tmp_path)
    assert p.arch == "unknown" and p.cores == 1
    assert p.mem_total_mb is None and p.board is None


def test_injected_runtime_facts() -> None:
    facts = Accel(("CUDAExecutionProvider", "CPUExecutionProvider"), (), 1,
                  cuda_compute_types=("float16", "int8"))  # fmt: skip
    p = probe(FIXTURES / "jetson-orin-nano", accel=facts)
    assert p.onnx_providers == ("CUDAExecutionProvider", "CPUExecutionProvider")
    assert (p.cuda_devices, p.cuda_compute_types) == (1, ("float16", "int8"))


def test_a_requested_but_missing_provider_is_not_reported() -> None:
    # onnxruntime (CPU build here) only warns about the CUDA provider; the session runs on CPU
    assert session_providers(["CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        "CPUExecutionProvider"
    ]


def test_the_identity_model_is_valid_onnx() -> None:
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(identity_model(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": np.array([1.5], dtype=np.float32)})
    assert out.tolist() == [1.5]


def test_this_machine() -> None:
    p = current_probe()
    assert current_probe() is p  # probed once per process
    assert p.arch == platform.machine() and p.cores >= 1
    assert p.mem_total_mb is not None and p.mem_total_mb > 0
    assert "CPUExecutionProvider" in p.onnx_providers  # from a real session
    assert set(p.onnx_providers) <= set(p.onnx_listed)
    assert p.cuda_devices >= 0  # 0 on the development host
    assert "int8" in p.cpu_compute_types
    assert p.runtime_crash is None


def _fake_python(tmp_path: Path, body: str) -> str:
    script = tmp_path / "python"
    script.write_text(f"#!{sys.executable}\nimport os, signal, sys\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_a_runtime_killed_by_sigill_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = 'print("step: import onnxruntime", flush=True)\nos.kill(os.getpid(), signal.SIGILL)'
    monkeypatch.setattr(accel_mod.sys, "executable", _fake_python(tmp_path, body))
    facts = runtime_facts()
    assert facts.crash == (
        "the runtime check died with SIGILL (an illegal instruction: built for a newer CPU) "
        "at 'import onnxruntime'"
    )
    assert facts.cuda_devices == 0 and facts.onnx_providers == ()


def test_a_hanging_runtime_check_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = "signal.pause()"  # waits for a signal that never comes: the timeout kills it
    monkeypatch.setattr(accel_mod.sys, "executable", _fake_python(tmp_path, body))
    facts = runtime_facts(timeout_s=0.5)
    assert facts.crash == "the runtime check took over 0.5 s"


def test_a_runtime_import_error_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (
        'print("step: import onnxruntime", flush=True)\n'
        'raise ImportError("libonnxruntime.so: cannot open shared object file")'
    )
    monkeypatch.setattr(accel_mod.sys, "executable", _fake_python(tmp_path, body))
    assert runtime_facts().crash == (
        "the runtime check exited with status 1 at 'import onnxruntime': "
        "ImportError: libonnxruntime.so: cannot open shared object file"
    )


def test_a_child_that_cannot_start_hearthvox_is_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = 'sys.exit("No module named hearthvox")'  # our plumbing, not the runtimes
    monkeypatch.setattr(accel_mod.sys, "executable", _fake_python(tmp_path, body))
    facts = runtime_facts()
    assert facts.crash is None
    assert "CPUExecutionProvider" in facts.onnx_providers  # asked in this process
    assert "int8" in facts.cpu_compute_types
