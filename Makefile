# The two commands of the README, and the few a contributor needs beside them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint stack-up stack-down clean

$(BIN)/kafkatrade: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

## run: the whole pipeline end to end on the default real market data
run: $(BIN)/kafkatrade
	$(BIN)/kafkatrade run --symbols stocks.txt $(ARGS)

## test: the whole test suite on the real broker, FerretDB and Helm
test: $(BIN)/kafkatrade
	$(BIN)/kafkatrade stack provision
	$(BIN)/pytest $(ARGS)

lint: $(BIN)/kafkatrade
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

stack-up: $(BIN)/kafkatrade
	$(BIN)/kafkatrade stack up

stack-down: $(BIN)/kafkatrade
	$(BIN)/kafkatrade stack down

clean:
	rm -rf $(VENV) .stack build dist src/*.egg-info
