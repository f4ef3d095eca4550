"""Errors of a training run that the command line reports as one line, and jmt's warnings."""


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss or gradient); the message says where."""


class SlowPrecisionWarning(UserWarning):
    """bf16 prediction asked for on a CPU that can only emulate it (see jmt.predict)."""


class RulesWarning(UserWarning):
    """Raw text split by spaCy's English rules because the model has no segmenter."""
