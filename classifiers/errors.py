"""Errors the training and import commands report to a user (kept apart from the
training code so the CLI can catch them without importing scikit-learn)."""


class DataError(ValueError):
    """A training, evaluation or import file cannot be used; says which and why."""
