"""Alembic migrations of the SOC state (alerts, users, tokens, audit log, IOCs)."""
