"""hearthvox.compat: hardware probe, compatibility matrix, profile selection with reasons."""

from hearthvox.compat.matrix import (
    Match,
    Matrix,
    Profile,
    Selection,
    load_matrix,
    parse_matrix,
    select_profile,
)
from hearthvox.compat.probe import Probe, probe

__all__ = [
    "Match",
    "Matrix",
    "Probe",
    "Profile",
    "Selection",
    "load_matrix",
    "parse_matrix",
    "probe",
    "select_profile",
]
