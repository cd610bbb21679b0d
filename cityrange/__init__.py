"""The attack range: the city's topology as network namespaces, a scenario library replayed
on the wire, and a score of what the SOC's detections raised (``citysoc range run``)."""
