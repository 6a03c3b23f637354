# The two commands a new user needs; each installs what it needs first (scripts/bootstrap.sh).
.PHONY: demo test lint bootstrap

bootstrap:
	@scripts/bootstrap.sh

## Run the main job: the simulated province (network namespaces, needs root) monitored by netmon.
demo: bootstrap
	.venv/bin/netmon demo

## Run every test (lint, type check, unit, real-peer and namespace tests). CI runs exactly this.
test: bootstrap lint
	.venv/bin/python -m pytest -q -ra

lint: bootstrap
	.venv/bin/ruff check probes collectors exporters netmon tests bench
