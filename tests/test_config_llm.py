"""``[llm]``: the language model's budgets in config.toml, checked like every other section
(exit 2, one line), and their defaults per device profile in the compatibility matrix."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearthvox import config as config_mod
from hearthvox.compat import load_matrix, probe, select_profile
from hearthvox.compat.tuning import tune
from hearthvox.config_ranges import cpu_count
from hearthvox.errors import ConfigError

FIXTURES = Path(__file__).parent / "compat" / "fixtures"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_defaults_serve_and_every_key_is_read(tmp_path: Path) -> None:
    llm = config_mod.Config().llm
    assert llm.enabled and llm.model == "" and llm.cache_type == "f16"
    assert llm.max_new_tokens < llm.context_tokens and llm.keep_tokens < llm.context_tokens
    text = (
        "[llm]\nenabled = false\ncontext_tokens = 1024\nmax_new_tokens = 32\n"
        "reply_wall_s = 5\nkeep_turns = 0\nkeep_tokens = 256\nidle_timeout_s = 30\n"
        'threads = 1\nmemory_mb = 300\ncache_type = "q8_0"\n'
    )
    llm = config_mod.load(_write(tmp_path, text)).llm
    assert (llm.enabled, llm.context_tokens, llm.max_new_tokens) == (False, 1024, 32)
    assert (llm.reply_wall_s, llm.keep_turns, llm.keep_tokens) == (5.0, 0, 256)
    assert (llm.idle_timeout_s, llm.threads, llm.memory_mb, llm.cache_type) == (
        30.0,
        1,
        300.0,
        "q8_0",
    )


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ("[llm]\ncontext_tokens = 64", "[llm] context_tokens must be from 128 to 131072, got 64"),
        ("[llm]\ncontext_tokens = 2048.0", "[llm] context_tokens must be an integer"),
        ("[llm]\nmemory_mb = nan", "[llm] memory_mb must be greater than 0"),
        ("[llm]\nmemory_mb = inf", "[llm] memory_mb must be greater than 0"),
        ("[llm]\nreply_wall_s = 0", "[llm] reply_wall_s must be greater than 0"),
        ("[llm]\nmax_new_tokens = 0", "[llm] max_new_tokens must be greater than 0"),
        ("[llm]\nkeep_turns = -1", "[llm] keep_turns must be 0 or more"),
        ("[llm]\nidle_timeout_s = -5.0", "[llm] idle_timeout_s must be greater than 0"),
        ('[llm]\nenabled = "yes"', "[llm] enabled must be of type bool"),
        ('[llm]\ncache_type = "q2_k"', "[llm] cache_type = 'q2_k': must be one of"),
        ('[llm]\nbackend = "openai"', '[llm] backend = "openai" needs [llm] url'),
        ('[llm]\nmodel = "no-such.gguf"', "[llm] model:"),
        ('[llm]\nmodel = "a\\u0001b"', "must not hold control characters"),
    ],
)
def test_bad_llm_values_are_refused_in_one_line(tmp_path: Path, toml: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_mod.load(_write(tmp_path, toml))
    message = str(info.value)
    assert fragment in message and "\n" not in message and info.value.exit_code == 2


def test_threads_are_held_to_the_cpu_count(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[llm\] threads must be .* CPU count"):
        config_mod.load(_write(tmp_path, f"[llm]\nthreads = {cpu_count() + 1}"))


def test_a_model_path_is_read_next_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "big.gguf").write_bytes(b"GGUF")
    cfg = config_mod.load(_write(tmp_path, '[llm]\nmodel = "big.gguf"'))
    assert cfg.llm.model == str(tmp_path.resolve() / "big.gguf")


@pytest.mark.parametrize(
    ("device", "context", "memory_mb"),
    [
        ("x86-laptop", 2048, 512.0),
        ("rpi4", 1024, 256.0),
        ("rpi5", 2048, 384.0),
        ("jetson-orin-nano", 4096, 1024.0),
    ],
)
def test_each_profile_sets_the_budgets_and_the_user_wins(
    device: str, context: int, memory_mb: float
) -> None:
    host = probe(FIXTURES / device, onnx_providers=["CPUExecutionProvider"], cuda_devices=0)
    selection = select_profile(host, load_matrix())
    tuned = tune(config_mod.Config(), selection, host).cfg.llm
    assert (tuned.context_tokens, tuned.memory_mb) == (context, memory_mb)
    assert tuned.threads <= host.cores
    mine = config_mod.from_dict({"llm": {"context_tokens": 512}})
    setup = tune(mine, selection, host)
    assert setup.cfg.llm.context_tokens == 512
    assert any(o.key == "llm.context_tokens" for o in setup.overrides) == (context != 512)
