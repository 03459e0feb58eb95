"""OpenMP threads that sleep at their barriers instead of spinning.

CTranslate2 and llama.cpp each carry their own libgomp, which reads
``OMP_WAIT_POLICY`` once, when the library loads. By default its threads spin at the
barrier after every operation; beside the other engines on a few cores a spinning
thread holds a core that the thread it waits for needs. Measured on a 2-core machine:

- llama.cpp, 2 threads with another process busy on one core: 34-47 tokens/s sleeping,
  11-26 spinning;
- the hub with four satellites asking at the same instant (three trials each, three
  runs): first reply p50 435-538 ms sleeping, 648-810 ms spinning, and 6.3-6.8 CPU-s
  against 7.8-8.7; a lone lean decode the same (100-105 ms), a full-window decode about
  5 % slower (400 against 380 ms).

A value the user set stays; ours is taken back once the library has loaded, so that no
child process inherits it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

POLICY = "OMP_WAIT_POLICY"


@contextmanager
def passive_openmp() -> Iterator[None]:
    """Load an OpenMP library inside this block: its threads will sleep when they wait."""
    ours = POLICY not in os.environ
    if ours:
        os.environ[POLICY] = "PASSIVE"
    try:
        yield
    finally:
        if ours:
            os.environ.pop(POLICY, None)
