# Fresh machine: `make run` (set up, fetch the corpus, build the index, start the chat app); `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Offline source of the corpus; without it, `levelup fetch` downloads from the official addresses.
MIRROR ?= ../shared/corpus
# Where `make run` serves the chat app (on 127.0.0.1 only).
PORT ?= 8501

.PHONY: setup corpus index run demo test lint bench

$(BIN)/levelup: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: a bare `torch` requirement would pull a 5 GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/levelup

corpus: setup
	if [ -d "$(MIRROR)" ]; then $(BIN)/levelup fetch --mirror "$(MIRROR)"; else $(BIN)/levelup fetch; fi

index: corpus
	$(BIN)/levelup ingest

run: index
	$(BIN)/levelup status
	@echo "The chat app: http://127.0.0.1:$(PORT)  (Ctrl-C stops it)"
	HF_HUB_OFFLINE=1 $(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

demo: index
	$(BIN)/levelup ask "How much is the UK Shared Prosperity Fund worth?"
	$(BIN)/levelup ask "we're a small business in Bolton - is there an innovation accelerator near us?"

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

bench: index
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/speed.py --mirror "$(MIRROR)"
