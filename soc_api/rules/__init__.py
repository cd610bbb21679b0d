"""The rule catalogue as the SOC sees it: status, last hit, ATT&CK coverage."""
