# The two commands of the README. Everything else is in scripts/ and the `citysoc` CLI.
.PHONY: demo test

demo:  ## run the SOC with demo data; prints the console URL and a login
	@scripts/demo.sh

test:  ## install what the tests need, then lint, type-check and run every test
	@scripts/test.sh
