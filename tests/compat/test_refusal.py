"""Refusing a bundle this device must not run: unsupported profile, known-bad combinations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hearthvox.compat import (
    Probe,
    Selection,
    check_bundle_supported,
    load_matrix,
    parse_matrix,
    probe,
    refusal,
    select_profile,
    split_bundle,
    user_matrix_path,
)
from hearthvox.compat.matrix import packaged_matrix_text
from hearthvox.compat.refusal import parse_ref
from hearthvox.errors import IncompatibleBundleError, ModelError

FIXTURES = Path(__file__).parent / "fixtures"
MATRIX = load_matrix()


def _device(name: str) -> tuple[Selection, Probe]:
    p = probe(FIXTURES / name, onnx_providers=["CPUExecutionProvider"], cuda_devices=0)
    return select_profile(p, MATRIX), p


def test_parse_ref() -> None:
    assert parse_ref("default-0.1.0@3") == ("default-0.1.0", "3")
    assert parse_ref("default-0.1.0") == ("default-0.1.0", "0.1.0")


def test_split_bundle() -> None:
    assert split_bundle("default-0.1.0") == ("default", "0.1.0")
    assert split_bundle("kitchen-beta-2.0rc1") == ("kitchen-beta", "2.0rc1")
    assert split_bundle("default") == ("default", "")
    assert split_bundle("x-notaversion") == ("x-notaversion", "")


def test_pi4_refuses_the_onnxruntime_that_crashes_there() -> None:
    selection, p = _device("rpi4")
    assert selection.profile == "rpi4"
    why = refusal(selection, p, ["any"], "default", "0.1.0", {"onnxruntime": "1.21.0"})
    assert why is not None
    assert why.startswith(
        "bundle default version 0.1.0 cannot run on this device: known bad on 'rpi4'"
    )
    assert "illegal instruction" in why and "onnxruntime 1.21.0 is installed" in why
    assert "https://github.com/microsoft/onnxruntime/issues/23957" in why
    assert refusal(selection, p, ["any"], "default", "0.1.0", {"onnxruntime": "1.22.0"}) is None
    assert refusal(selection, p, ["any"], "default", "0.1.0", {"onnxruntime": None}) is None


def test_the_same_runtime_is_fine_on_a_pi_5() -> None:
    selection, p = _device("rpi5")
    assert refusal(selection, p, ["any"], "default", "0.1.0", {"onnxruntime": "1.21.0"}) is None


def test_hardware_list_by_profile_id_or_pattern() -> None:
    selection, p = _device("rpi4")
    why = refusal(selection, p, ["x86-avx2", "jetson-orin"], "kitchen", "2.0", {})
    assert why == (
        "bundle kitchen version 2.0 cannot run on this device: it supports x86-avx2, jetson-orin; "
        f"this device is 'rpi4' ({selection.description})"
    )
    assert refusal(selection, p, ["rpi*"], "kitchen", "2.0", {}) is None
    assert refusal(selection, p, ["rpi4"], "kitchen", "2.0", {}) is None
    assert "it supports no hardware at all" in (refusal(selection, p, [], "k", "1", {}) or "")


def test_known_bad_bundle_versions() -> None:
    text = packaged_matrix_text().replace(
        "  - id: rpi5\n",
        "  - id: rpi5\n"
        "    known_bad:\n"
        "      - {bundle: 'kitchen*', versions: '<2.1', reason: decoder loops on this board}\n",
    )
    matrix = parse_matrix(text, "<test>")
    p = probe(FIXTURES / "rpi5", onnx_providers=[], cuda_devices=0)
    selection = select_profile(p, matrix)
    why = refusal(selection, p, ["any"], "kitchen-beta", "2.0.1", {})
    assert why is not None and "known bad on 'rpi5': decoder loops on this board" in why
    assert refusal(selection, p, ["any"], "kitchen-beta", "2.1", {}) is None
    assert refusal(selection, p, ["any"], "default", "0.1.0", {}) is None


def test_a_runtime_that_dies_on_this_cpu_refuses_every_bundle() -> None:
    selection, p = _device("rpi4")
    crashed = dataclasses.replace(
        p, runtime_crash="the runtime check died with SIGILL at 'import onnxruntime'"
    )
    why = refusal(selection, crashed, ["any"], "default", "0.1.0", {})
    assert why is not None and "the model runtimes cannot run on this CPU" in why
    assert "SIGILL" in why


@pytest.mark.usefixtures("x86_avx2_host")
def test_check_bundle_supported_on_this_machine() -> None:
    check_bundle_supported(["any"], "default", "0.1.0")
    check_bundle_supported(["x86-*"], "default", "0.1.0")
    with pytest.raises(IncompatibleBundleError) as info:
        check_bundle_supported(["rpi4", "rpi5"], "default", "0.1.0")
    assert isinstance(info.value, ModelError) and info.value.exit_code == 5
    assert "it supports rpi4, rpi5; this device is 'x86-" in str(info.value)


@pytest.mark.usefixtures("x86_avx2_host")
def test_check_bundle_supported_reads_the_user_copy(hearthvox_home: Path) -> None:
    user = user_matrix_path()
    user.parent.mkdir(parents=True)
    user.write_text(
        packaged_matrix_text().replace(
            "    verified:\n",
            "    known_bad:\n"
            "      - {bundle: default, versions: '==0.1.0', reason: too slow here}\n"
            "    verified:\n",
            1,
        )
    )
    check_bundle_supported(["any"], "default", "0.2.0")
    check_bundle_supported(["any"], "default-0.2.0", "1")
    for bundle_id, version in [("default-0.1.0", "0.1.0"), ("default-0.1.0", ""),
                               ("default", "0.1.0")]:  # fmt: skip
        with pytest.raises(IncompatibleBundleError, match="known bad on 'x86-avx2': too slow"):
            check_bundle_supported(["any"], bundle_id, version)
