# The Straight Dope, JAX edition. `make book` and `make test` work on a fresh clone with nothing
# installed beforehand: both create .venv and install the project into it first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export PYTHONUNBUFFERED := 1

.PHONY: help venv data lint unit notebooks book test execute lab bench check-site clean

help:
	@echo "make book      build the HTML book from the notebooks' stored outputs into _build/html"
	@echo "make test      lint, unit tests, every notebook under nbval, and the book built with -W"
	@echo "make lab       JupyterLab on the notebooks"
	@echo "make execute   re-execute notebooks in place (NB=path to pick some) to refresh outputs"
	@echo "make bench     the speed benchmark (writes bench/results/)"
	@echo "make check-site  the built site in headless Chromium, its links, and a JupyterLab smoke test"
	@echo "make lint | unit | notebooks   ruff alone, the unit tests alone, nbval on the notebooks alone"
	@echo "make data      make sure Fashion-MNIST is where dstraight.data finds it"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[book,test]'
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
book: $(STAMP)
	$(BIN)/jupyter-book build --warningiserror --keep-going .
	@echo "The book is at $(CURDIR)/_build/html/index.html"

test: $(STAMP) data lint book
	$(BIN)/python -m pytest

execute: $(STAMP) data
	$(BIN)/python tools/execute_notebooks.py $(NB)

# Served from the repository root so that the notebooks' links to book/ pages work too.
lab: $(STAMP) data
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks \
	  $$([ "$$(id -u)" = 0 ] && echo --allow-root)

check-site: $(STAMP) book
	$(BIN)/python -m pytest tests/test_book_html.py tests/test_site_browser.py tests/test_jupyterlab.py

bench: $(STAMP) data
	$(BIN)/python -c 'import torch' 2>/dev/null \
	  || echo 'PyTorch is not installed: the benchmark skips its PyTorch column (pip install torch).'
	$(BIN)/python -m bench

clean:
	rm -rf _build
