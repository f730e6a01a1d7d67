"""Errors a user can cause and fix (bad path, bad data, bad config).

Scripts catch :class:`TfmodelsError`, print its one-line message and exit with a
non-zero code, instead of showing a TensorFlow stack trace.
"""


class TfmodelsError(Exception):
    """Base class: the message alone tells the user what to fix."""


class ConfigError(TfmodelsError):
    """An unknown model/task name, unknown config key or invalid value."""


class CheckpointError(TfmodelsError):
    """A checkpoint that is missing, corrupt or does not fit the model."""


class DataError(TfmodelsError):
    """Input data that cannot be read (missing file, malformed row, bad label)."""


class TrainingError(TfmodelsError):
    """A run that cannot go on (losses that stay NaN or infinite)."""


class Preempted(Exception):
    """Training stopped by SIGTERM or Ctrl-C after saving a checkpoint at the current
    step: not a failure (the scripts exit 0), the next start resumes from it."""
