"""From a source to a sink, at least once: the disk buffer and its record format, the
shippers, the delivery process beside a reader, and the sinks (the event store, the SOC
API)."""
