"""Where events come from: capture files and interfaces (read here, decoded in ``packets``),
Suricata EVE, syslog files and listeners, followed files, and watched folders (YARA)."""
