"""Notifications: new critical alerts and case changes, told to each agency's webhooks and
e-mail recipients (and the city SOC's), from an outbox drained by a background thread."""
