"""The soak's sound server is the audio-path tests' one (skipped, or failed under CI,
when PulseAudio cannot start)."""

from tests.audio_path.conftest import pulse

__all__ = ["pulse"]
