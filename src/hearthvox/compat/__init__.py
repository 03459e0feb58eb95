"""hearthvox.compat: hardware probe, compatibility matrix, profile selection with reasons,
the config the engines run with on this device, and refusing bundles that will not run.

docs/compat.md describes the matrix, the selection and ``hearthvox hw``.
"""

from hearthvox.compat.matrix import (
    RuleCheck,
    Selection,
    load_matrix,
    parse_matrix,
    select_profile,
    user_matrix_path,
)
from hearthvox.compat.probe import Probe, current_probe, probe
from hearthvox.compat.refusal import check_bundle_supported, refusal, split_bundle
from hearthvox.compat.schema import KnownBad, Match, Matrix, Profile, Verified
from hearthvox.compat.tuning import DeviceSetup, Override, device_setup, effective_config

__all__ = [
    "DeviceSetup",
    "KnownBad",
    "Match",
    "Matrix",
    "Override",
    "Probe",
    "Profile",
    "RuleCheck",
    "Selection",
    "Verified",
    "check_bundle_supported",
    "current_probe",
    "device_setup",
    "effective_config",
    "load_matrix",
    "parse_matrix",
    "probe",
    "refusal",
    "select_profile",
    "split_bundle",
    "user_matrix_path",
]
