"""Analytics releases as the SOC API records them: bundles, their signed gate decisions, and
which one is deployed (promotions and rollbacks, each in the audit log)."""
