"""Incidents: alerts joined by shared entities; campaigns: incidents across agencies."""
