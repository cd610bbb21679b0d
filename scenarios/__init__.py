"""Traffic made for the demo, the tests and the benchmarks: whole TCP conversations as
packets (``packetcraft``), the demo city's scenario behind the bundled samples
(``generator``) and a benign day of city traffic (``baseline``). Not part of the product:
the distribution does not ship it and no product module imports it."""
