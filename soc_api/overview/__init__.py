"""The overview: alerts over time, by agency, top rules and entities, the city map."""
