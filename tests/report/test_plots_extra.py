"""Without the [report] extra, the report says which extra to install (one line, no
traceback) instead of failing on an import."""

from __future__ import annotations

import sys

import pytest

from hearthvox.errors import HearthvoxError
from hearthvox.report import plots


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(HearthvoxError, match=r"pip install 'hearthvox\[report\]'"):
        plots.latency_cdf({"asr": [1.0, 2.0]})
