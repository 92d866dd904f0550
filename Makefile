# make run: build the example site with the recipes; make test: the test suite
# (make check: its unit layer alone, in seconds). Each sets up what it needs
# on a fresh Debian 12 machine, in any order.

# The virtualenvs come from Debian's Python: the one Debian's mod_wsgi embeds.
# make run gets bin/buildout as users do (djangowsgi bootstrap: .buildout-venv);
# .venv runs the tests and the benchmarks.
PYTHON ?= /usr/bin/python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test test-bench test-debian13 check golden bench dist clean packages-check packages-run packages-test packages-bench

run: packages-run
	PYTHONPATH=src $(PYTHON) -m djangowsgi bootstrap
	bin/buildout -N
	bin/django migrate --noinput
	bin/django check
	bin/apache graceful
	@echo
	@echo "The example site is served by Apache + mod_wsgi at http://127.0.0.1:8000/"
	@echo "  bin/apache stop            stops it (also: start, graceful, reload, status, configtest)"
	@echo "  bin/django                 manage.py of the example project"
	@echo "  parts/wsgi/wsgi.wsgi       the WSGI script; parts/apache/vhost.conf for a system Apache"

test: packages-test $(STAMP)
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile --durations=25 tests/unit tests/e2e

# The benchmarks' smoke runs (each bench/ script starts and runs every target
# briefly): in .ci/run after make test, apart from it to keep make test short.
test-bench: packages-bench $(STAMP)
	$(VENV)/bin/python -m pytest tests/bench

# The Debian 13 lane: the tests that depend on the distribution, in a Debian 13 tree
# (debootstrap, kept in /var/tmp) with Django 5.2 and 6.1 (tools/debian13; as root).
test-debian13:
	tools/debian13

# The unit layer: options, rendering and golden files, the control script's config, the
# deploy's rules; no Apache (none installed for it), no bin/buildout, no sshd, no network.
check: packages-check $(STAMP)
	$(VENV)/bin/python -m pytest tests/unit

# Rewrites tests/unit/golden/ from the recipes as they are: review the diff before committing it.
golden: $(STAMP)
	DJANGOWSGI_REGENERATE_GOLDEN=1 $(VENV)/bin/python -m pytest -q tests/unit/test_rendering.py tests/unit/test_init.py

# The full benchmarks (run.py about 25 minutes on 2 CPUs, tuning.py and front.py about twenty each: docs/benchmarks.rst); make test-bench runs their smoke modes.
bench: packages-bench $(STAMP)
	$(VENV)/bin/python bench/run.py
	$(VENV)/bin/python bench/edge.py
	$(VENV)/bin/python bench/tuning.py
	$(VENV)/bin/python bench/front.py
	$(VENV)/bin/python bench/deploy.py

# The Debian packages of each target (tools/install-system-packages lists them).
packages-check packages-run packages-test packages-bench:
	@tools/install-system-packages $(@:packages-%=%)

# The release: the sdist and the wheel in dist/, checked as the package index
# will check them (docs/development.rst, "Making a release").
DIST_VENV := .venv-dist
dist: $(DIST_VENV)/.installed
	rm -rf dist build
	$(DIST_VENV)/bin/python -m build --outdir dist .
	$(DIST_VENV)/bin/twine check --strict dist/*

$(DIST_VENV)/.installed: requirements-dist.txt
	$(PYTHON) -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/pip install -q -r requirements-dist.txt
	touch $@

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

clean:
	rm -rf $(VENV) $(DIST_VENV) dist build .buildout-venv bin parts develop-eggs eggs var .installed.cfg .mr.developer.cfg
