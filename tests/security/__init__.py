"""The standing security suite: one file per attack family, run by ``make test``."""
