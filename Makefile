# The two commands a new user needs; each installs what it needs first (scripts/bootstrap.sh).
.PHONY: demo test lint bootstrap audit docs

bootstrap:
	@scripts/bootstrap.sh

## Run the main job: the simulated province (network namespaces, needs root) monitored by netmon.
demo: bootstrap
	.venv/bin/netmon demo

## Run every test (lint, type check, unit, real-peer and namespace tests). CI runs exactly this.
## The tests touching the machine's network run in order, the rest beside them (scripts/test.sh).
test: bootstrap lint audit
	scripts/test.sh

lint: bootstrap
	.venv/bin/ruff check probes collectors exporters netmon tests bench scripts
	.venv/bin/mypy

## Known vulnerabilities in the installed dependencies (pip-audit against the PyPI advisory service).
## Offline, pip-audit skips every package and exits 0; scripts/audit.py says NOT AUDITED instead.
audit: bootstrap
	@.venv/bin/python -m pip_audit --version >/dev/null 2>&1 || .venv/bin/pip install -q pip-audit
	.venv/bin/python scripts/audit.py

## Rewrite docs/cli.md's `$ netmon …` examples from a run on the simulated province (root; takes the lab lock).
docs: bootstrap
	NETMON_DOCS_REGEN=1 .venv/bin/python -m pytest -q tests/docs/test_cli_examples.py
