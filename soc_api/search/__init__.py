"""Search across the SOC: the query language on alerts (SQL), events (the event store) and
pivot pages on one entity, always within the caller's agencies."""
