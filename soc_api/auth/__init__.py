"""Who may use the SOC: users, roles, passwords and the per-agency scope they give."""
