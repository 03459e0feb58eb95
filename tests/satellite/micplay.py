"""A ``--mic-command`` for wyoming-satellite: raw 16 kHz 16-bit mono on stdout, paced
like a microphone: silence until ``TRIGGER`` exists, then ``WAV``, then silence."""

import os
import sys
import time
import wave

CHUNK = 1024  # samples


def main() -> None:
    wav_path, trigger = sys.argv[1], sys.argv[2]
    with wave.open(wav_path, "rb") as wav:
        audio = wav.readframes(wav.getnframes())
    out = sys.stdout.buffer
    silence = bytes(CHUNK * 2)
    step_s = CHUNK / 16000
    t = time.monotonic()
    played = False
    while True:
        if not played and os.path.exists(trigger):
            for i in range(0, len(audio), CHUNK * 2):
                out.write(audio[i : i + CHUNK * 2].ljust(CHUNK * 2, b"\0"))
                out.flush()
                t += step_s
                time.sleep(max(0.0, t - time.monotonic()))
            played = True
        out.write(silence)
        out.flush()
        t += step_s
        time.sleep(max(0.0, t - time.monotonic()))


if __name__ == "__main__":
    try:
        main()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
