# The Straight Dope, JAX edition. `make book` and `make test` work on a fresh clone with nothing
# installed beforehand: both create .venv and install the project into it first, with the exact
# versions of constraints.txt (the lock the stored notebook outputs were made with).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := constraints.txt
# Throwaway environments live under _build, which git, ruff, pytest and the book all ignore.
LATEST := _build/venv-latest
export PYTHONUNBUFFERED := 1

.PHONY: help venv data lint unit notebooks book test execute lab bench check-site lock \
        test-latest check-fresh mathjax clean

help:
	@echo "make book      build the HTML book from the notebooks' stored outputs into _build/html"
	@echo "make test      lint, unit tests, every notebook under nbval, and the book built with -W"
	@echo "make lab       JupyterLab on the notebooks (no data needed to start)"
	@echo "make execute   re-execute notebooks in place (NB=path to pick some) to refresh outputs"
	@echo "make bench     the speed benchmark (writes bench/results/)"
	@echo "make check-site  the built site in headless Chromium, its links, and a JupyterLab smoke test"
	@echo "make lint | unit | notebooks   ruff alone, the unit tests alone, nbval on the notebooks alone"
	@echo "make data      make sure Fashion-MNIST is where dstraight.data finds it"
	@echo "make lock      refresh constraints.txt from the newest releases (then make execute)"
	@echo "make test-latest  the whole suite against the newest releases, without the lock"
	@echo "make check-fresh  each notebook alone in a fresh venv with only pip, as on Colab (NB=...)"
	@echo "make mathjax   refresh the vendored MathJax in book/_static from npm (package.json)"

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python tools/lock.py check
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[book,test]'
	touch $(STAMP)

venv: $(STAMP)

# Fashion-MNIST must be somewhere the loader looks: already found, else downloaded, else Debian's
# package (the way to get it on a machine without internet access but with root and apt-get).
data: $(STAMP)
	@$(BIN)/python -m dstraight.data where fashion-mnist >/dev/null 2>&1 \
	  || timeout 300 $(BIN)/python -m dstraight.data fetch fashion-mnist \
	  || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
	       && { apt-get install -y -q dataset-fashion-mnist \
	            || { apt-get update -q && apt-get install -y -q dataset-fashion-mnist; }; }; }
	$(BIN)/python -m dstraight.data where fashion-mnist

lint: $(STAMP)
	$(BIN)/ruff check .

unit: $(STAMP)
	$(BIN)/python -m pytest tests

notebooks: $(STAMP) data
	$(BIN)/python -m pytest notebooks

# Built from the stored outputs (execute_notebooks: off in _config.yml); any warning fails the build.
# --all when only book/_static or book/site changed: Sphinx copies them only when a page is rebuilt.
book: $(STAMP)
	$(BIN)/jupyter-book build --warningiserror --keep-going . $$($(BIN)/python tools/book_assets.py)
	@echo "The book is at $(CURDIR)/_build/html/index.html"

test: $(STAMP) data lint book
	$(BIN)/python -m pytest

execute: $(STAMP) data
	$(BIN)/python tools/execute_notebooks.py $(NB)

# Served from the repository root so that the notebooks' links to book/ pages work too. Starts
# without the data: only the softmax notebooks' loading cells need Fashion-MNIST.
lab: $(STAMP)
	@$(BIN)/python -m dstraight.data where fashion-mnist >/dev/null 2>&1 || echo \
	  "Fashion-MNIST is not on this machine yet. Chapter 1 and the linear-regression notebooks do" \
	  "not need it; the softmax notebooks download it when they first load it. Offline: run" \
	  "'make data' (as root it installs Debian's dataset-fashion-mnist) or see book/data.md."
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks \
	  $$([ "$$(id -u)" = 0 ] && echo --allow-root)

check-site: $(STAMP) book
	$(BIN)/python -m pytest tests/test_book_html.py tests/test_site_browser.py tests/test_jupyterlab.py

bench: $(STAMP) data
	$(BIN)/python -c 'import torch' 2>/dev/null \
	  || echo 'PyTorch is not installed: the benchmark skips its PyTorch column (pip install torch).'
	$(BIN)/python -m bench

# A fresh environment with the newest releases inside pyproject.toml's ranges, frozen into the lock.
# The stored outputs then have to be refreshed with `make execute` and the diff reviewed.
lock:
	rm -rf _build/venv-lock
	$(PYTHON) -m venv _build/venv-lock
	_build/venv-lock/bin/python -m pip install --quiet --upgrade pip
	_build/venv-lock/bin/python -m pip install --quiet -e '.[book,test]'
	_build/venv-lock/bin/python tools/lock.py write _build/venv-lock > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf _build/venv-lock
	@git diff --stat -- $(LOCK) 2>/dev/null || true
	@echo "$(LOCK) refreshed: run 'make execute' and 'make test', and review the notebooks' diff."

# The suite against the newest releases, to see upstream drift before a fresh machine does. Its book
# is built apart (BOOK_OUTPUT), so it never stands in for the locked build of `make test`.
test-latest: data
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade -e '.[book,test]'
	$(LATEST)/bin/python tools/lock.py diff $(LATEST)
	$(LATEST)/bin/ruff check .
	BOOK_OUTPUT=_build/latest $(LATEST)/bin/python -m pytest

# Every notebook (or NB=...) copied alone into an empty folder and run by a fresh virtual
# environment that has only pip: its first cell must install everything (from this checkout).
check-fresh: $(STAMP)
	$(BIN)/python tools/run_fresh.py $(NB)

mathjax:
	$(BIN)/python tools/vendor_mathjax.py

clean:
	rm -rf _build
