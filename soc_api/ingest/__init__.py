"""Bulk NDJSON ingest for collectors: ``POST /api/v1/ingest``."""
