"""A satellite's microphone for the tests: 16 kHz 16-bit mono silence on stdout at the
pace of a real microphone; each time GO_FILE appears it plays REQUEST.raw once (and
removes GO_FILE). Standard library only: it runs in the satellite's own venv.

    python mic.py REQUEST.raw GO_FILE
"""

import os
import sys
import time

BLOCK = 1024 * 2  # the satellite's default: 1024 samples a read


def main() -> None:
    request = open(sys.argv[1], "rb").read()
    go = sys.argv[2]
    out = sys.stdout.buffer
    silence = bytes(BLOCK)
    playing = b""
    t_next = time.monotonic()
    while True:
        if not playing and os.path.exists(go):
            os.unlink(go)
            playing = request
        block, playing = (playing[:BLOCK], playing[BLOCK:]) if playing else (silence, b"")
        out.write(block.ljust(BLOCK, b"\0"))
        out.flush()
        t_next += BLOCK / 2 / 16000
        time.sleep(max(0.0, t_next - time.monotonic()))


if __name__ == "__main__":
    try:
        main()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
