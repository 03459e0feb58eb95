"""Configuration: frozen dataclasses per concern, loaded from TOML, validated at load.

Every key is optional; the defaults serve. An unknown section or key, or a value
of the wrong type or out of range, is a :class:`ConfigError` naming it.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from hearthvox.config_ranges import MAX_TEXT_CHARS, check_number, check_threads
from hearthvox.errors import ConfigError
from hearthvox.paths import user_paths
from hearthvox.vocabulary import load_vocabulary


@dataclass(frozen=True)
class AudioConfig:
    rate_hz: int = 16000
    """Pipeline sample rate; every input is resampled to it."""
    chunk_ms: int = 80
    """Input chunk size (openWakeWord works on 80 ms frames)."""
    input_device: str = ""
    """Microphone name or index (empty: the system default)."""
    output_device: str = ""
    """Speaker name or index (empty: the system default)."""
    barge_in: bool = True
    """On the microphone and speaker: the wake word interrupts a reply (docs/audio.md)."""
    barge_in_threshold: float = 0.8
    """Wake threshold while the assistant speaks (stricter: its own voice is in the room)."""
    earcons: bool = False
    """Short sounds when it starts and stops listening (kept out of what is transcribed)."""


WakeThresholds = tuple[tuple[str, float], ...]
"""``((model name, threshold), ...)``: the table ``[wake.thresholds]``."""


@dataclass(frozen=True)
class WakeConfig:
    models: tuple[str, ...] = ("hey_jarvis",)
    threshold: float = 0.5
    thresholds: WakeThresholds = ()
    """Per-model thresholds over ``threshold``: a table ``[wake.thresholds]`` of
    ``NAME = X`` (``hearthvox models add-wake --threshold`` puts one in the bundle)."""
    refractory_s: float = 2.0
    """After a detection, ignore further ones for this long (one utterance fires once)."""
    threads: int = 1
    idle_gate: bool = True
    """While idle, run the wake model only when an energy gate and the VAD hear something."""


@dataclass(frozen=True)
class VadConfig:
    threshold: float = 0.5
    threads: int = 1


@dataclass(frozen=True)
class EndpointConfig:
    speech_start_ms: int = 96
    """Speech must last this long before an utterance starts."""
    hangover_ms: int = 500
    """Trailing silence that closes an utterance."""
    max_utterance_s: float = 12.0
    no_speech_timeout_s: float = 5.0
    """After a wake word, give up if no speech starts within this time."""
    preroll_ms: int = 300
    """Audio kept from before the detected speech start."""
    follow_up: bool = True
    """After a reply, listen for a follow-up without the wake word."""
    follow_up_s: float = 4.0
    adaptive: bool = True
    """Decode at the first pause and pick the hangover from what was said."""
    pause_ms: int = 64
    """Trailing silence after which the speculative decode starts (what it costs: a lean
    decode for each pause this long inside a command, which speech resuming discards)."""
    short_hangover_ms: int = 384
    """Hangover once the speculative transcript is a finished sentence."""
    command_hangover_ms: int = 160
    """Hangover once the finished sentence is a whole request a skill answers (not the
    fallback, and nothing the skill needs missing): "What time is it?"."""
    long_hangover_ms: int = 1000
    """Hangover after a filler or a trailing "and" (the speaker is not done)."""
    end_threshold: float = 0.0
    """Once speech has started, a frame counts as speech only at this VAD probability or
    above (never below ``[vad] threshold``; 0 = that threshold). Silero holds a room's
    echo above 0.5 for 30-220 ms after the words end; 0.7 took 46 ms off the median wait
    on the eval's dev speakers, but cut 12 more commands of the test speakers (WER 24.3
    -> 27.4 %), so it is off (docs/evaluation.md)."""


@dataclass(frozen=True)
class AsrConfig:
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    threads: int = 2
    beam_size: int = 1
    language: str = "en"
    decode: Literal["lean", "full"] = "lean"
    """``lean``: encode only the audio, guarded greedy decode; ``full``: the 30 s window."""
    second_model: Literal["auto", "on", "off"] = "auto"
    """Whisper base as a second ASR model: ``auto`` = the device profile's choice (hw)."""
    vocabulary: str = ""
    """A file of names and codes to expect, one per line (docs/configuration.md)."""
    vocabulary_prompt: bool = True
    """Decode again with the listed terms as Whisper's prompt when the text holds a
    near miss of one (docs/configuration.md#vocabulary)."""
    correct_threshold: float = 0.9
    """After decoding, put a listed term for words that score this close (0: never)."""
    digit_words: bool = True
    """Score a short utterance's text against the ten digit words and take the digit
    when the audio supports it better ("Kevin." -> "seven")
    (docs/configuration.md#digit-words)."""
    cascade: bool = False
    """Decode unsure sentences again with the second model (where it runs: second_model)."""
    cascade_logprob: float = -0.8
    """... unsure: the small model's mean token log probability under this."""


@dataclass(frozen=True)
class TtsConfig:
    voice: str = "en_US-joe-medium"
    length_scale: float = 1.0
    threads: int = 1
    first_clause: bool = True
    """Synthesise the first clause on its own so the first audio comes sooner."""


@dataclass(frozen=True)
class SkillsConfig:
    disabled: tuple[str, ...] = ()
    fallback_reply: str = "Sorry, I can't do that yet."
    apology: str = "Sorry, something went wrong."


@dataclass(frozen=True)
class LlmConfig:
    """The local language model that answers what no skill handles (docs/llm.md), under
    hard budgets: its context, each reply's length and time, the history it keeps, and
    the memory it may take (weights + KV cache at ``context_tokens`` + runtime overhead,
    checked before it loads). Needs the ``[llm]`` extra."""

    enabled: bool = True
    """Answer with the LLM when no skill matches (where the ``[llm]`` extra is installed)."""
    model: str = ""
    """A GGUF file to run instead of the default (llm/smollm2-135m-instruct); relative to
    the config file. It goes through the same checks (header, memory budget)."""
    context_tokens: int = 2048
    """The context window: system prompt + kept turns + the question + the reply."""
    max_new_tokens: int = 64
    """The longest reply, in tokens (one or two short sentences need about 40)."""
    reply_wall_s: float = 10.0
    """A reply stops after this long, wherever it is."""
    keep_turns: int = 8
    """Question-and-answer pairs kept as history; past it the oldest are dropped."""
    keep_tokens: int = 1024
    """History tokens kept (the system prompt not counted); past it the oldest turns go."""
    idle_timeout_s: float = 300.0
    """A conversation silent this long ends and its state is freed."""
    threads: int = 1
    """llama.cpp's threads: on 2 cores one was faster beside the other engines (docs/llm.md)."""
    memory_mb: float = 512.0
    """The memory budget: a model whose weights, KV cache at ``context_tokens`` and
    runtime overhead do not fit is refused, with the numbers."""
    cache_type: Literal["f16", "q8_0", "q4_0"] = "f16"
    """The KV cache's precision (bytes per cached value: 2, ~1.06, ~0.56)."""
    backend: Literal["local", "openai"] = "local"
    """``openai``: ask an OpenAI-compatible server on the network first (``url``); this
    sends the question and the kept history off the device. The local model answers when
    the server is away or slow (docs/llm.md#remote-server)."""
    url: str = ""
    """The server's base URL, such as ``http://192.168.1.5:8080/v1`` (http or https)."""
    remote_model: str = ""
    """The model name sent to the server ("": none sent; llama.cpp's server takes its one
    model, Ollama and vLLM need the name)."""
    api_key_env: str = ""
    """The name of an environment variable holding the server's API key (never the key)."""
    connect_timeout_s: float = 1.0
    """Connecting to the server may take this long."""
    first_token_s: float = 1.5
    """No reply text from the server this long after the request: the local model answers."""
    read_timeout_s: float = 2.0
    """The server silent this long between two pieces of a reply: the reply ends there."""
    retry_after_s: float = 30.0
    """After the server failed, turns go straight to the local model for this long."""

    def __post_init__(self) -> None:
        if self.url:
            server_url(self.url)
        elif self.backend == "openai":
            raise ConfigError(
                '[llm] backend = "openai" needs [llm] url, the server\'s base URL '
                "(such as http://192.168.1.5:8080/v1)"
            )
        if self.api_key_env and not _ENV_NAME.fullmatch(self.api_key_env):
            raise ConfigError(
                "[llm] api_key_env must be the name of an environment variable "
                f"(letters, digits, _), got {_short(self.api_key_env)}"
            )


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


@dataclass(frozen=True)
class ServerUrl:
    """``[llm] url``, checked: where the chat completions are asked for."""

    scheme: Literal["http", "https"]
    host: str
    port: int
    path: str
    """The request path: the base URL's path + ``/chat/completions``."""

    @property
    def where(self) -> str:
        """``host:port`` (what logs name; a URL never carries a key here)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def server_url(url: str) -> ServerUrl:
    """Parse ``[llm] url`` (a ConfigError in one line unless it is an http(s) URL with a
    host, no user name or password, no query or fragment)."""
    import urllib.parse

    def bad(why: str) -> ConfigError:
        got = f", got {_short(url)}" if "@" not in url else ""  # never a password back
        return ConfigError(
            f"[llm] url {why}: give the server's base URL, such as http://192.168.1.5:8080/v1{got}"
        )

    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise bad(f"is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise bad("must start with http:// or https://")
    if not parts.hostname:
        raise bad("has no host")
    if port == 0:
        raise bad("has port 0")
    if parts.username is not None or parts.password is not None:
        raise bad("must not hold a user name or password (a key: [llm] api_key_env)")
    if parts.query or parts.fragment:
        raise bad("must not have a query or a fragment")
    if any(c.isspace() for c in url):
        raise bad("must not hold spaces")
    path = parts.path.rstrip("/")
    if not path.endswith("/chat/completions"):
        path += "/chat/completions"
    scheme: Literal["http", "https"] = "https" if parts.scheme == "https" else "http"
    return ServerUrl(scheme, parts.hostname, port or (443 if scheme == "https" else 80), path)


KEEP_TRANSCRIPTS_MAX_DAYS = 30


@dataclass(frozen=True)
class TelemetryConfig:
    """Local telemetry (docs/telemetry.md): timings and outcomes, never what was said."""

    enabled: bool = True
    retention_days: float = 30.0
    retention_turns: int = 100_000
    keep_transcripts: bool = False
    """Also keep transcript and reply text (a separate table that ``purge`` empties) ..."""
    keep_transcripts_until: str = ""
    """... through this date (YYYY-MM-DD, required, at most 30 days ahead); then it expires."""
    alert_first_audio_p95_ms: float = 1500.0
    """``telemetry check`` thresholds; 0 switches a rule off."""
    alert_error_rate: float = 0.2
    alert_false_wake_rate: float = 0.5
    alert_rss_mb: float = 1500.0
    alert_min_turns: int = 5
    """Rates and percentiles are only judged over at least this many turns."""
    check_window_h: float = 24.0

    def __post_init__(self) -> None:
        import datetime as dt

        def bad(key: str, why: str) -> ConfigError:
            return ConfigError(f"[telemetry] {key} {why}, got {getattr(self, key)!r}")

        for key in ("retention_days", "retention_turns", "check_window_h"):
            if getattr(self, key) <= 0:
                raise bad(key, "must be greater than 0")
        for key in ("alert_first_audio_p95_ms", "alert_rss_mb", "alert_min_turns"):
            if getattr(self, key) < 0:
                raise bad(key, "must be 0 or more")
        for key in ("alert_error_rate", "alert_false_wake_rate"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise bad(key, "must be between 0 and 1")
        if not self.keep_transcripts:
            return
        try:
            until = dt.date.fromisoformat(self.keep_transcripts_until)
        except ValueError:
            raise bad(
                "keep_transcripts_until", "must be a date (YYYY-MM-DD) with keep_transcripts"
            ) from None
        if until > dt.date.today() + dt.timedelta(days=KEEP_TRANSCRIPTS_MAX_DAYS):
            raise bad(
                "keep_transcripts_until", f"must be at most {KEEP_TRANSCRIPTS_MAX_DAYS} days ahead"
            )


@dataclass(frozen=True)
class ModelsConfig:
    """The model store (docs/bundles.md): channel, trusted signing keys, trial."""

    channel: Literal["stable", "beta", "canary"] = "stable"
    """The release channel whose active bundle the daemon loads."""
    trusted_keys: tuple[str, ...] = ()
    """Public keys (``ed25519:BASE64``) trusted to sign bundles and bundle indexes."""
    trust_local_key: bool = True
    """Also trust this device's own key (it signs the default bundle built at first run)."""
    trial_tries: int = 3
    """Starts a newly activated bundle gets to pass its health check before rollback."""
    index_url: str = ""
    """Bundle index ``models install`` uses when given no source."""


@dataclass(frozen=True)
class ServiceConfig:
    """``hearthvox run`` as a service (docs/service.md)."""

    drain_s: float = 5.0
    """On SIGTERM, the turn in progress may finish for this long; then it is cancelled."""
    stall_s: float = 0.0
    """A worker silent this long stops the watchdog pings (0: the unit's WatchdogSec)."""

    def __post_init__(self) -> None:
        if self.stall_s < 0:
            raise ConfigError(f"[service] stall_s must be 0 or more, got {self.stall_s!r}")


@dataclass(frozen=True)
class ServeConfig:
    """The Wyoming server inside ``hearthvox run`` (``run --serve``; docs/wyoming.md)."""

    with_run: bool = False
    """``hearthvox run`` also serves Wyoming at ``uri``, with its own models (loaded once)."""
    uri: str = ""
    """Where ``run``'s Wyoming server listens ("": tcp://127.0.0.1:10550)."""
    allow_remote: bool = False
    """Allow a non-loopback ``uri`` (the protocol has no authentication)."""
    wait_s: float = 15.0
    """A Wyoming request waits this long behind the assistant's own turn, then is refused."""


MAX_SATELLITES = 32
"""``[[hub.satellites]]`` tables at most (each is a session with its own wake and VAD)."""
_AREA = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,31}")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\]")


@dataclass(frozen=True)
class SatelliteEntry:
    """One ``[[hub.satellites]]`` table: where the satellite listens, and its room."""

    uri: str
    area: str
    hears: tuple[str, ...] | None = None
    """The areas whose wake words this satellite's microphone also picks up (their
    satellites' claims are arbitrated with its own); None: not said."""


def satellite_address(uri: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` -> (host, port), or :class:`ConfigError` saying what is wrong
    (a hub connects to satellites over TCP only; the port must be given)."""
    example = "give tcp://HOST:PORT, such as tcp://kitchen.local:10700"
    if not isinstance(uri, str) or len(uri) > 300:
        raise ConfigError(f"satellite uri {_short(uri)} is not a tcp:// address: {example}")
    if not uri.startswith("tcp://"):
        raise ConfigError(f"satellite uri {uri!r} is not a tcp:// address: {example}")
    host, sep, port = uri[len("tcp://") :].rpartition(":")
    if not sep or not _HOST.fullmatch(host) or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"satellite uri {uri!r} needs a host and a port 1-65535: {example}")
    return host.strip("[]"), int(port)


def _satellites(where: str, value: Any) -> tuple[SatelliteEntry, ...]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ConfigError(f"{where} must be tables [[hub.satellites]], got {_short(value)}")
    if len(value) > MAX_SATELLITES:
        raise ConfigError(f"{where}: at most {MAX_SATELLITES} satellites, got {len(value)}")
    out: list[SatelliteEntry] = []
    for i, table in enumerate(value, 1):
        spot = f"{where} #{i}"
        unknown = sorted(set(table) - {"uri", "area", "hears"})
        if unknown:
            raise ConfigError(f"unknown key {spot} {unknown[0]!r}; known keys: area, hears, uri")
        uri = table.get("uri")
        if not isinstance(uri, str):
            raise ConfigError(f'{spot} needs uri = "tcp://HOST:PORT"')
        try:
            satellite_address(uri)
        except ConfigError as exc:
            raise ConfigError(f"{spot}: {exc}") from None
        area = table.get("area", "")
        if not isinstance(area, str) or not _AREA.fullmatch(area):
            raise ConfigError(
                f"{spot} area must be a short name (1-32 letters, digits, space, _ . -), "
                f"got {_short(area)}"
            )
        if any(e.uri == uri for e in out):
            raise ConfigError(f"{spot}: satellite {uri} is listed twice")
        out.append(SatelliteEntry(uri, area, _hears(spot, table.get("hears"))))
    areas = {e.area for e in out}
    for i, e in enumerate(out, 1):
        for other in e.hears or ():
            if other not in areas:
                raise ConfigError(
                    f"{where} #{i} hears {other!r}, the area of no satellite listed; "
                    f"areas: {', '.join(sorted(areas))}"
                )
    return tuple(out)


def _hears(spot: str, value: Any) -> tuple[str, ...] | None:
    """``hears = ["hall", "living room"]``: areas, each a short name, at most
    :data:`MAX_SATELLITES`."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) > MAX_SATELLITES
        or not all(isinstance(a, str) and _AREA.fullmatch(a) for a in value)
    ):
        raise ConfigError(
            f"{spot} hears must be a list of at most {MAX_SATELLITES} areas "
            f'(e.g. hears = ["hall"]), got {_short(value)}'
        )
    return tuple(dict.fromkeys(value))


@dataclass(frozen=True)
class HubConfig:
    """``hearthvox hub``: the Wyoming satellites it drives (docs/hub.md)."""

    satellites: tuple[SatelliteEntry, ...] = ()
    """``[[hub.satellites]]`` tables: ``uri = "tcp://HOST:PORT"``, ``area = "kitchen"``."""
    arbitration_window_ms: float = 300.0
    """Wake words heard by several satellites within this window answer once (the best):
    every satellite's with every other's, or, where ``[[hub.satellites]]`` say what
    they ``hears``, those of satellites that hear each other."""
    max_queue_age_ms: float = 2000.0
    """A turn still waiting for speech-to-text or the skills this long after its end of
    speech gets a short busy reply instead of a late answer (it is shed); 0: never."""
    reconnect_max_s: float = 3.0
    """A satellite that went away is retried with backoff up to this long between tries
    (a connection attempt is cheap; a restarted satellite is back within about 4 s)."""


@dataclass(frozen=True)
class SatelliteConfig:
    """``hearthvox satellite``: this device as a Wyoming satellite (docs/satellite.md)."""

    name: str = ""
    """The name Home Assistant shows ("": hearthvox-<host>)."""
    area: str = ""
    """The area (room) the satellite is in, if any."""
    uri: str = ""
    """Where it listens ("": tcp://127.0.0.1:10700); ``--uri`` wins."""
    allow_remote: bool = False
    """Allow a non-loopback ``uri`` (the protocol has no authentication)."""


SliceBudgets = tuple[tuple[str, tuple[tuple[str, float], ...]], ...]
"""``[eval.slices.NAME]`` tables: (slice, ((budget key, value), ...)), sorted."""


@dataclass(frozen=True)
class EvalConfig:
    """Quality by slice (docs/evaluation.md): the eval set, and the promotion gate's
    budgets (how much worse than the target channel's bundle a candidate may be)."""

    corpus: str = ""
    """The eval corpus (a folder with corpus.csv); empty: $HEARTHVOX_CORPUS."""
    cache_dir: str = ""
    """Where synthesised clips and results are kept (empty: the cache directory)."""
    seed: int = 0
    """Seed of every random choice in the synthesised slices (a new seed, a new set)."""
    wer_max_rise: float = 0.02
    """Word error rate may rise by this much (absolute: 0.02 is 2 points) on any slice."""
    entity_error_max_rise: float = 0.0
    wake_frr_max_rise: float = 0.0
    wake_fa_max_factor: float = 2.0
    """False accepts may not grow past this factor of the baseline's (0 -> 1 is a rise)."""
    vad_f1_max_drop: float = 0.02
    cutoff_max_rise: float = 0.0
    late_max_rise: float = 0.0
    slices: SliceBudgets = ()
    """Per-slice budgets: a table ``[eval.slices.NAME]`` with any of the keys above."""

    def __post_init__(self) -> None:
        for key in BUDGET_KEYS:
            if getattr(self, key) < 0:
                raise ConfigError(f"[eval] {key} must be 0 or more, got {getattr(self, key)!r}")


BUDGET_KEYS = (
    "wer_max_rise",
    "entity_error_max_rise",
    "wake_frr_max_rise",
    "wake_fa_max_factor",
    "vad_f1_max_drop",
    "cutoff_max_rise",
    "late_max_rise",
)


def _slice_budgets(where: str, value: Any) -> SliceBudgets:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be tables [eval.slices.NAME], got {value!r}")
    out = []
    for name, table in sorted(value.items()):
        if not isinstance(table, dict):
            raise ConfigError(f"{where}.{name} must be a table of budgets, got {table!r}")
        budgets = []
        for key, number in sorted(table.items()):
            if key not in BUDGET_KEYS:
                raise ConfigError(
                    f"unknown key {where}.{name} {key!r}; known: {', '.join(BUDGET_KEYS)}"
                )
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise ConfigError(f"{where}.{name} {key} must be a number, got {number!r}")
            check_number("eval", key, number, f"{where}.{name}")
            budgets.append((key, float(number)))
        out.append((str(name), tuple(budgets)))
    return tuple(out)


def _wake_thresholds(where: str, value: Any) -> WakeThresholds:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table of NAME = threshold, got {value!r}")
    out = []
    for name, number in sorted(value.items()):
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ConfigError(f"{where} {name} must be a number, got {number!r}")
        if not 0.0 < number < 1.0:
            raise ConfigError(f"{where} {name} must be between 0 and 1, got {number!r}")
        out.append((str(name), float(number)))
    return tuple(out)


@dataclass(frozen=True)
class ReportConfig:
    """``hearthvox report`` (docs/report.md): the launch limits it judges by, and a local
    LLM not installed here whose KV cache the capacity section sizes from these figures
    (``llm_layers = 0``: none). The configured ``[llm]`` model is measured, not sized."""

    utilisation: float = 0.7
    """Capacity is counted at this share of the device's CPU."""
    speech_duty: float = 0.1
    """Share of a stream's time spent on speech (ASR) in the mixed capacity estimate."""
    hub_turn_interval_s: float = 20.0
    """A hub's satellites each ask once per this many seconds (streams per core)."""
    wer_max: float = 0.25
    """A quality slice fails its budget above this word error rate ..."""
    entity_error_max: float = 0.5
    """... above this entity error rate ..."""
    wake_frr_max: float = 0.3
    """... above this wake false-reject rate ..."""
    cutoff_rate_max: float = 0.1
    """... or above this share of commands cut off."""
    llm_name: str = ""
    llm_layers: int = 0
    llm_kv_heads: int = 0
    llm_head_dim: int = 0
    llm_cache_bytes: float = 2.0
    """Bytes per cached value: 2 (fp16), 1 (int8/q8), 0.5 (q4)."""
    llm_context_tokens: int = 0
    llm_weights_mb: float = 0.0
    """The LLM's weights in memory, counted against the memory left."""

    def __post_init__(self) -> None:
        for key in ("utilisation", "speech_duty"):
            if not 0.0 < getattr(self, key) <= 1.0:
                raise ConfigError(f"[report] {key} must be in (0, 1], got {getattr(self, key)!r}")
        if not self.hub_turn_interval_s > 0.0:
            raise ConfigError(
                f"[report] hub_turn_interval_s must be greater than 0, "
                f"got {self.hub_turn_interval_s!r}"
            )
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and value < 0:
                raise ConfigError(f"[report] {f.name} must be 0 or more, got {value!r}")


@dataclass(frozen=True)
class Config:
    audio: AudioConfig = field(default_factory=AudioConfig)
    wake: WakeConfig = field(default_factory=WakeConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    skills: SkillsConfig = field(default_factory=SkillsConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    satellite: SatelliteConfig = field(default_factory=SatelliteConfig)
    hub: HubConfig = field(default_factory=HubConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    explicit: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    """``section.key`` of every key the config file set (so a value equal to the default
    still counts as the user's choice: it wins over the compatibility matrix)."""


def user_keys(cfg: Config) -> frozenset[str]:
    """Keys the user chose: set in the file, or (a Config built in code) unlike the default."""
    chosen = set(cfg.explicit)
    for section in _sections():
        value = getattr(cfg, section)
        default = type(value)()
        for f in dataclasses.fields(value):
            if getattr(value, f.name) != getattr(default, f.name):
                chosen.add(f"{section}.{f.name}")
    return frozenset(chosen)


MAX_CONFIG_BYTES = 1 << 20
"""A config file larger than this is refused before it is read."""
MAX_LIST_ITEMS = 64


def _coerce(where: str, value: Any, hint: Any) -> Any:
    if hint == SliceBudgets:
        return _slice_budgets(where, value)
    if hint == WakeThresholds:
        return _wake_thresholds(where, value)
    if hint == tuple[SatelliteEntry, ...]:
        return _satellites(where, value)
    origin = get_origin(hint)
    if origin is Literal:
        if value not in get_args(hint):
            allowed = ", ".join(repr(a) for a in get_args(hint))
            raise ConfigError(f"{where} = {value!r}: must be one of {allowed}")
        return value
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, got {_short(value)}")
        if len(value) > MAX_LIST_ITEMS:
            raise ConfigError(f"{where} must have at most {MAX_LIST_ITEMS} items, got {len(value)}")
        for item in value:
            _check_text(where, item)
        return tuple(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if not isinstance(value, hint):
        raise ConfigError(f"{where} must be of type {hint.__name__}, got {_short(value)}")
    if isinstance(value, str):
        _check_text(where, value)
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _check_text(where: str, text: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise ConfigError(f"{where} must be at most {MAX_TEXT_CHARS} characters, got {len(text)}")
    if any(ord(c) < 32 and c not in "\t" for c in text):
        raise ConfigError(f"{where} must not hold control characters, got {_short(text)}")


def _section(name: str, cls: type[Any], raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}] must be a table")
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"unknown key [{name}] {unknown[0]!r}; known keys: {', '.join(sorted(known))}"
        )
    values = {k: _coerce(f"[{name}] {k}", v, hints[k]) for k, v in raw.items()}
    for key, value in values.items():
        if hints[key] in (int, float):
            check_number(name, key, value)
    return cls(**values)


def _sections() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(Config) if f.name != "explicit")


def from_dict(raw: dict[str, Any]) -> Config:
    sections = _sections()
    unknown = sorted(set(raw) - set(sections))
    if unknown:
        raise ConfigError(
            f"unknown config section [{unknown[0]}]; known: {', '.join(sorted(sections))}"
        )
    hints = get_type_hints(Config)
    values = {name: _section(name, hints[name], raw[name]) for name in raw}
    explicit = frozenset(f"{name}.{key}" for name in raw for key in raw[name])
    return Config(**values, explicit=explicit)


def load(path: Path | None = None) -> Config:
    """Load ``path``, or the user's config file if it exists, else the defaults."""
    explicit = path is not None
    target = path if path is not None else user_paths().config_file
    if not target.exists():
        if explicit:
            raise ConfigError(f"config file {target} does not exist")
        return Config()
    if not target.is_file():  # a pipe would block the start until something wrote to it
        raise ConfigError(
            f"config file {target} is not a regular file (a folder, a pipe, a device)"
        )
    try:
        with target.open("rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"config file {target} is larger than {MAX_CONFIG_BYTES // 1024} KiB; "
                "is it the right file?"
            )
        raw = tomllib.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {target}: {_one_line(exc)}") from exc
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise ConfigError(f"config file {target} is not valid TOML: {_one_line(exc)}") from exc
    try:
        cfg = from_dict(raw)
        check_threads(
            {s: getattr(cfg, s).threads for s in _THREADED if "threads" in raw.get(s, {})}
        )
        if cfg.asr.vocabulary:  # read when the ASR loads; checked now, before any bundle
            listed = Path(cfg.asr.vocabulary).expanduser()
            if not listed.is_absolute():  # next to the config file, wherever the daemon runs
                listed = target.parent.resolve() / listed
                cfg = dataclasses.replace(
                    cfg, asr=dataclasses.replace(cfg.asr, vocabulary=str(listed))
                )
            load_vocabulary(listed)
        if cfg.llm.model:  # a GGUF next to the config file; its header is read at load
            gguf = Path(cfg.llm.model).expanduser()
            if not gguf.is_absolute():
                gguf = target.parent.resolve() / gguf
                cfg = dataclasses.replace(cfg, llm=dataclasses.replace(cfg.llm, model=str(gguf)))
            if not gguf.is_file():
                raise ConfigError(f"[llm] model: {gguf} is not a file")
    except ConfigError as exc:
        raise ConfigError(f"{target}: {exc}") from exc
    return cfg


_THREADED = ("wake", "vad", "asr", "tts", "llm")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
