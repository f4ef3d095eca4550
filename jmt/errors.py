"""Errors of a training run that the command line reports as one line."""


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss or gradient); the message says where."""
