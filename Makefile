# Developer entry points. Every target bootstraps the virtualenv first:
#   make serve [ARGS="--port 9000"]   run the server (defaults: ./uapi.db, built-in demo directory)
#   make test  [PYTEST_ARGS="-k hang"] run the whole test suite (tests/, including PostgreSQL)
#   make lint                          check openapi/uapi.yaml with `uapi lint`

VENV   := .venv
PYTHON := $(VENV)/bin/python
# Written after a successful install; pip runs again only when pyproject.toml is newer.
STAMP  := $(VENV)/.installed-from-pyproject
ARGS        ?=
PYTEST_ARGS ?=

.PHONY: serve test lint bootstrap

bootstrap: $(STAMP)

$(PYTHON):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $@

serve: $(STAMP)
	$(VENV)/bin/uapi serve $(ARGS)

# pytest exits with 5 when it collects no tests. That is treated as a failure on
# purpose: a suite that silently runs nothing (a broken testpaths, an import
# mistake hiding every module) must never look green. Any other non-zero status
# fails as usual.
test: $(STAMP)
	@status=0; $(VENV)/bin/pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests; failing on purpose" >&2; fi; \
	exit $$status

# uapi/lint.py is being written; until it exists the target says so and succeeds.
# `uapi handlers`: every operation has its handler function and every handler its operation.
lint: $(STAMP)
	@if [ -f uapi/lint.py ]; then $(VENV)/bin/uapi lint openapi/uapi.yaml; \
	else echo "make lint: uapi/lint.py does not exist yet; nothing to run"; fi
	@$(VENV)/bin/uapi handlers --spec openapi/uapi.yaml
