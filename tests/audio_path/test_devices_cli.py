"""``hearthvox devices`` on the test's PulseAudio."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hearthvox.cli import main
from tests.audio_path.conftest import Pulse


def test_lists_devices_and_the_ones_run_uses(pulse_env: Pulse, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["devices", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    names = {r["name"]: r for r in rows}
    assert {"pulse", "default"} <= set(names)
    assert names["default"]["used_for_input"] and names["default"]["used_for_output"]
    assert names["pulse"]["max_input_channels"] > 0

    cfg = tmp_path / "config.toml"
    cfg.write_text('[audio]\ninput_device = "pulse"\noutput_device = "nosuch"\n')
    result = CliRunner().invoke(main, ["devices", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if " pulse " in f" {x} ")
    assert "<- mic" in line
    assert "no output device matches 'nosuch'" in result.output
