# Developer entry points. Every target bootstraps the virtualenv first:
#   make serve [ARGS="--port 9000"]   run the server (defaults: ./uapi.db, built-in demo directory)
#   make test  [PYTEST_ARGS="-k hang"] run the whole test suite (tests/, including PostgreSQL)
#   make lint                          check openapi/uapi.yaml with `uapi lint`, the code with ruff and mypy

VENV   := .venv
PYTHON := $(VENV)/bin/python
# Written after a successful install; pip runs again only when pyproject.toml is newer. Serving
# needs the package alone; the test extra (pytest, Schemathesis, Selenium, tox: ~250 MB) is
# installed by the targets that run tests only.
SERVE_STAMP := $(VENV)/.installed-serve
TEST_STAMP  := $(VENV)/.installed-test
ARGS        ?=
PYTEST_ARGS ?=

.PHONY: serve test lint bootstrap prerequisites

bootstrap: $(TEST_STAMP)

$(PYTHON):
	@python3 -m venv $(VENV) || { echo "make: python3 -m venv failed; on Debian: sudo apt-get install python3-venv" >&2; exit 1; }
	$(PYTHON) -m pip install --quiet --upgrade pip

# pip's own progress (downloads, resolution) stays visible: a first install takes a minute or two.
$(SERVE_STAMP): pyproject.toml | $(PYTHON)
	@echo "make: installing uapi-phonecalls into $(VENV) (what serving needs)"
	$(PYTHON) -m pip install --progress-bar on -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(PYTHON)
	@echo "make: installing uapi-phonecalls and its test extra into $(VENV)"
	$(PYTHON) -m pip install --progress-bar on -e '.[test]'
	touch $@ $(SERVE_STAMP)

serve: $(SERVE_STAMP)
	$(VENV)/bin/uapi serve $(ARGS)

# The Debian packages the suite drives (PostgreSQL, Chromium, Node, SIPp, Kamailio): named with the
# command that installs them, instead of failing one test at a time.
prerequisites:
	@missing=$$(.ci/missing-packages); if [ -n "$$missing" ]; then \
	  echo "make test: missing system packages: $$missing" >&2; \
	  echo "make test: install them with: sudo apt-get install --no-install-recommends $$missing" >&2; \
	  echo "make test: (or run .ci/run as root, which installs them and runs the suite)" >&2; exit 1; fi

# pytest exits with 5 when it collects no tests. That is treated as a failure on
# purpose: a suite that silently runs nothing (a broken testpaths, an import
# mistake hiding every module) must never look green. Any other non-zero status
# fails as usual.
test: prerequisites $(TEST_STAMP)
	@status=0; $(VENV)/bin/pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests; failing on purpose" >&2; fi; \
	exit $$status

# `uapi lint`: the project's contract rules; `uapi handlers`: every operation has its handler
# function and every handler its operation; ruff: the Python code ([tool.ruff] in pyproject.toml);
# mypy --strict over uapi and handlers ([tool.mypy] in pyproject.toml).
lint: $(TEST_STAMP)
	@$(VENV)/bin/uapi lint openapi/uapi.yaml
	@$(VENV)/bin/uapi handlers --spec openapi/uapi.yaml
	@$(VENV)/bin/ruff check uapi handlers tests bench
	@$(VENV)/bin/mypy
