"""citysoc package."""
