"""citysoc: an infrastructure-as-code SOC and security monitoring suite for smart cities."""

__version__ = "0.1.0"
