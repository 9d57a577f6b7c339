# Two commands set up a fresh machine: `make demo` and `make test`. Each creates the virtual
# environment, installs what it needs (Graphviz's `dot` too, where the system allows), then runs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out

.PHONY: demo images test lint format graphviz chromium torch-parity clean notebooks

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,viz]'
	touch $@

graphviz:
	@sh scripts/ensure_graphviz.sh

# The explorer page's browser tests drive the system Chromium headless (Playwright's Python package,
# no downloaded browser); installed where the system allows, else those tests skip and say why.
chromium:
	@sh scripts/ensure_chromium.sh

# PyTorch is no dependency; when its CPU wheel lies on this machine, install it so the parity tests run.
torch-parity: $(VENV)/.installed
	@sh scripts/install_local_torch.sh $(PY)

demo: $(VENV)/.installed graphviz
	$(PY) -m tinygrad_rnn demo --out $(OUT)

# The README's pictures: rerun the demo and copy the ones the README shows into docs/images.
README_IMAGES := rnn_unrolled.svg rnn_cells.svg lstm_cells.svg rnn_rolled.svg neuron_vs_layer.svg \
	gradient_flow.png rnn_contributions.png state_gradients.png loss_use_map.png tbptt_bands.svg
images: demo chromium
	mkdir -p docs/images
	cp $(addprefix $(OUT)/,$(README_IMAGES)) docs/images/
	cp $(OUT)/explore.html docs/explore.html
	cp $(OUT)/explore.gif docs/images/explore.gif
	$(PY) scripts/explore_screenshots.py docs/explore.html docs/images

# Every lesson executed as a notebook (Jupytext + nbclient, from the test extra) into $(OUT)/notebooks;
# full runs take several minutes -- `make notebooks NOTEBOOK_FLAGS=--quick` for the quick mode.
NOTEBOOK_FLAGS ?=
notebooks: $(VENV)/.installed graphviz
	$(PY) -m tinygrad_rnn tutorials --run all $(NOTEBOOK_FLAGS) --out $(OUT)/tutorials --notebooks $(OUT)/notebooks

test: $(VENV)/.installed graphviz chromium torch-parity
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n 2 -q

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info .pytest_cache .hypothesis
