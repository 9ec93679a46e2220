# small-ir: `make demo` and `make test` set up everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint pytest filecheck bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

BENCH_STAMP := $(VENV)/.bench-installed
BENCH_MODELS := $(addprefix examples/models/,ic_resnet8_float.tflite kws_dscnn_float.tflite vww_mobilenetv1_float.tflite ad_autoencoder_float.tflite)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[bench]'
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/small-ir bench $(BENCH_MODELS) --target host --plot out/bench.png

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: lint pytest filecheck

lint: $(STAMP)
	$(BIN)/ruff check .

pytest: $(STAMP)
	$(BIN)/python -m pytest -q tests

filecheck: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/lit -v tests/filecheck

clean:
	rm -rf $(VENV) build *.egg-info
