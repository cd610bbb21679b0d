"""Indicators of compromise shared between agencies under the Traffic Light Protocol."""
