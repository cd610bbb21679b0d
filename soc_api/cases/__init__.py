"""Cases: incidents kept as analysts' work, with an owner, a status, tasks, comments, linked
alerts and a timeline of every change, each agency seeing only its part of a shared case."""
