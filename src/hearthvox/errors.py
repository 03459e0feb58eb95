"""One exception tree for the whole library.

::

    HearthvoxError                 exit code 1 unless a subclass says otherwise
    ├── ConfigError                invalid or unreadable config file            (2)
    ├── AudioError
    │   ├── AudioFormatError       not a WAV, empty, truncated, unsupported     (4)
    │   └── AudioDeviceError       no microphone / speaker, device failure      (3)
    ├── ModelError                 weights missing, size/hash mismatch, load    (5)
    │   └── IncompatibleBundleError  this device cannot run the bundle (compat matrix) (5)
    ├── OutputError                an output file or folder cannot be written   (6)
    ├── EngineError                an engine failed on one input (becomes a StageError event)
    └── SkillError                 a skill failed on one utterance (becomes a StageError event)

The library raises; only the CLI turns these into messages and exit codes.
"""

from __future__ import annotations


class HearthvoxError(Exception):
    """Base of every error hearthvox raises on purpose."""

    exit_code = 1


class ConfigError(HearthvoxError):
    exit_code = 2


class AudioError(HearthvoxError):
    exit_code = 4


class AudioFormatError(AudioError):
    exit_code = 4


class AudioDeviceError(AudioError):
    exit_code = 3


class ModelError(HearthvoxError):
    exit_code = 5


class IncompatibleBundleError(ModelError):
    """The compatibility matrix says this device cannot run the bundle (the message says why)."""

    exit_code = 5


class OutputError(HearthvoxError):
    """An output the user asked for (a WAV, a folder, an export) cannot be written."""

    exit_code = 6


class EngineError(HearthvoxError):
    exit_code = 1


class SkillError(HearthvoxError):
    exit_code = 1
