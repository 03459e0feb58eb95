"""The probe on fixture roots (recorded or format-faithful device files) and on this machine."""

from __future__ import annotations

from pathlib import Path

from hearthvox.compat import Probe, probe

FIXTURES = Path(__file__).parent / "fixtures"


def _probe(root: Path) -> Probe:
    return probe(root, onnx_providers=["CPUExecutionProvider"], cuda_devices=0)


def test_x86_avx2_fixture() -> None:
    p = _probe(FIXTURES / "x86-avx2")
    assert p.arch == "x86_64"
    assert p.cpu_model == "AMD EPYC"
    assert p.cores == 2
    assert {"avx2", "avx512f", "fma"} <= set(p.flags)
    assert "lm" not in p.flags  # only flags of interest are kept
    assert p.mem_total_mb == 24684084 // 1024
    assert p.mem_available_mb == 24302564 // 1024
    assert p.board is None and p.l4t_release is None
    assert p.onnx_providers == ("CPUExecutionProvider",)


def test_x86_without_avx_fixture() -> None:
    p = _probe(FIXTURES / "x86-noavx2")
    assert p.arch == "x86_64"
    assert "Celeron" in p.cpu_model
    assert "avx2" not in p.flags and "avx" not in p.flags
    assert {"sse4_1", "sse4_2"} <= set(p.flags)


def test_raspberry_pi_4_fixture() -> None:
    p = _probe(FIXTURES / "rpi4")
    assert p.arch == "aarch64"
    assert p.cpu_model == "Cortex-A72"
    assert p.cores == 4
    assert p.flags == ("asimd",)
    assert p.board == "Raspberry Pi 4 Model B Rev 1.4"  # the trailing NUL is gone
    assert p.l4t_release is None
    assert p.mem_total_mb == 7997356 // 1024


def test_jetson_fixture() -> None:
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
    p = _probe(tmp_path)
    assert p.board == "NVIDIA Jetson (L4T R36.3.0)"


def test_empty_root_degrades_gracefully(tmp_path: Path) -> None:
    p = _probe(tmp_path)
    assert p.arch == "unknown" and p.cores == 1
    assert p.mem_total_mb is None and p.board is None


def test_this_machine() -> None:
    p = probe()
    assert isinstance(p, Probe)
    assert p.cores >= 1
    assert p.mem_total_mb is not None and p.mem_total_mb > 0
    assert "CPUExecutionProvider" in p.onnx_providers
    assert p.cuda_devices >= 0
