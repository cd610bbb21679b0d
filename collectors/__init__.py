"""citysoc package."""

from citysoc.core.native import prefer_fresh

prefer_fresh(__name__, __path__[0])  # before any module: a stale compiled one is passed over
