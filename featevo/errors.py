"""User-facing errors.

Every mistake a user can make (bad config, missing upstream stage, corrupt file, ...) raises a
:class:`FeatevoError`. Stage scripts catch it and print one line, ``error: <message>``, and exit
with status 2 instead of a traceback. Bugs in featevo itself still raise ordinary exceptions.
"""

from __future__ import annotations


class FeatevoError(Exception):
    """An error caused by the user's input or environment; shown as one line, no traceback."""


class ConfigError(FeatevoError):
    """Unknown key, wrong type or inconsistent values in a config file or a ``--set`` override."""


class DataError(FeatevoError):
    """A corpus or probe file that is missing, empty or malformed."""


class StageError(FeatevoError):
    """An upstream stage has not run, or ran with another config, or its outputs are damaged."""


class ModelLoadError(FeatevoError):
    """A model or tokenizer that cannot be loaded (offline, wrong name, wrong layer)."""


class TrainingError(FeatevoError):
    """Training diverged (NaN loss, non-finite activations); the last good checkpoint is kept."""
