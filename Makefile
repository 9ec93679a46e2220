# small-ir: `make demo` and `make test` set up everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test toolchains lint pytest filecheck bench clean

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

test: toolchains lint pytest filecheck

# The cross compilers and emulators of the neon, rvv and cortex-m* targets (Debian packages, ~650 MB).
CROSS_PACKAGES := gcc-aarch64-linux-gnu libc6-dev-arm64-cross clang-16 lld-16 libc6-dev-riscv64-cross \
	libgcc-12-dev-riscv64-cross binutils-riscv64-linux-gnu qemu-user qemu-system-arm
CROSS_TOOLS := aarch64-linux-gnu-gcc clang-16 ld.lld-16 qemu-aarch64 qemu-riscv64 qemu-system-arm

toolchains:
	@missing=$$(for tool in $(CROSS_TOOLS); do command -v $$tool >/dev/null || echo $$tool; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing the cross toolchains and emulators (missing: $$missing)"; \
		install="apt-get install -y -qq --no-install-recommends $(CROSS_PACKAGES)"; \
		DEBIAN_FRONTEND=noninteractive $$install || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$install; }; \
	else \
		echo "missing: $$missing; the emulated targets' tests will be skipped. Install them (as root) with:"; \
		echo "  apt-get install -y --no-install-recommends $(CROSS_PACKAGES)"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .

pytest: $(STAMP)
	$(BIN)/python -m pytest -q -n auto tests

filecheck: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/lit -v tests/filecheck

clean:
	rm -rf $(VENV) build *.egg-info
