"""The fixed split of the real speech by speaker: ``dev`` for tuning, ``test`` for reporting.

A speaker's utterances are all on one side, so the test figures are about voices
no threshold, margin, hangover or guard was tuned on. The speakers with many
utterances are placed by hand so that each side has read speech, commands,
alphanumerics, both genders and non-US accents:

- dev: ``cathy`` (ARCTIC, read), ``fsdd_jackson`` (US) and ``fsdd_yweweler``
  (German) digits, ``an4_fclc`` and ``an4_ffmm`` (spelled names and numbers),
  ``sc_0a2b400e`` (command words), and the original ``spk1``/``spk2`` sentences
  (the ones the endpoint and the lean decoder were first tuned on);
- test: ``ljspeech_LJ`` (read), ``fsdd_george`` (Greek) and ``fsdd_lucas`` (German)
  digits, ``an4_fbbh`` and ``an4_fash``, ``pocketsphinx_cards``, ``birch_canoe``
  and ``LDC93S1``.

Every other speaker (one to three utterances each) goes by the first byte of the
sha256 of its id: below 103 (about 40 %) to dev, else to test. A speaker added to
the corpus later lands on a side by the same rule and never moves.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Split = Literal["dev", "test"]
SPLITS: tuple[Split, ...] = ("dev", "test")

DEV_SPEAKERS = frozenset(
    {
        "cathy",
        "fsdd_jackson",
        "fsdd_yweweler",
        "an4_fclc",
        "an4_ffmm",
        "sc_0a2b400e",
        "spk1",
        "spk2",
    }
)
TEST_SPEAKERS = frozenset(
    {
        "ljspeech_LJ",
        "fsdd_george",
        "fsdd_lucas",
        "an4_fbbh",
        "an4_fash",
        "pocketsphinx_cards",
        "birch_canoe",
        "LDC93S1",
    }
)
_DEV_BELOW = 103


def split_of(speaker: str) -> Split:
    if speaker in DEV_SPEAKERS:
        return "dev"
    if speaker in TEST_SPEAKERS:
        return "test"
    return "dev" if hashlib.sha256(speaker.encode()).digest()[0] < _DEV_BELOW else "test"
