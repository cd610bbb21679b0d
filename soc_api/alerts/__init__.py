"""Alerts: what the detections raised, deduplicated and enriched, for analysts to triage."""
