"""Compliance reports for auditors: frameworks as data, evidence the SOC gathers itself,
signed reports (JSON, HTML, PDF) per agency and period."""
