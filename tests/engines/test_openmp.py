"""OpenMP libraries loaded by the engines get sleeping threads, unless the user chose."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hearthvox.engines.openmp import POLICY, passive_openmp


def test_passive_only_while_the_library_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POLICY, raising=False)
    with passive_openmp():
        assert os.environ[POLICY] == "PASSIVE"
    assert POLICY not in os.environ  # no child process inherits ours


def test_a_policy_the_user_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POLICY, "ACTIVE")
    with passive_openmp():
        assert os.environ[POLICY] == "ACTIVE"
    assert os.environ[POLICY] == "ACTIVE"


def test_ctranslate2_loads_its_openmp_under_the_passive_policy() -> None:
    """In a fresh process, loading the live decoder's library sees PASSIVE, and the
    process's environment is clean again afterwards."""
    script = (
        "import os, hearthvox.engines.openmp as o\n"
        "seen = []\n"
        "real = o.passive_openmp\n"
        "def spy():\n"
        "    cm = real()\n"
        "    class W:\n"
        "        def __enter__(s):\n"
        "            cm.__enter__(); seen.append(os.environ.get(o.POLICY))\n"
        "        def __exit__(s, *a):\n"
        "            return cm.__exit__(*a)\n"
        "    return W()\n"
        "import sys\n"
        "import hearthvox.engines.asr as asr\n"
        "assert 'ctranslate2' not in sys.modules  # loaded first inside the block\n"
        "asr.passive_openmp = spy\n"
        "from hearthvox.bundles.default import default_model_paths\n"
        "asr.load_whisper(default_model_paths().asr_dir, device='cpu', compute_type='int8',"
        " threads=1)\n"
        "assert 'ctranslate2' in sys.modules\n"
        "print(seen, os.environ.get(o.POLICY))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != POLICY}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["['PASSIVE']", "None"]
