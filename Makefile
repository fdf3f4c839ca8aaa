# Entry points used by the README and .ci/run. Machines here have 2 cores: -j2 throughout.
CARGO_JOBS ?= 2
CARGO := cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
OBELYSK := $(TARGET_DIR)/debug/obelysk
PLUGINS := fibonacci sum-array collatz sha256 matmul

.PHONY: toolchain build plugins demo test bench fmt lint clean plugins-only demo-only

# RUSTUP_AUTO_INSTALL=0 on these machines: install the pinned toolchain first (no-op when present).
toolchain:
	@rustup toolchain install >/dev/null

build: toolchain
	$(CARGO) build -j$(CARGO_JOBS) -p obelysk-node

# Every first-party plugin, built with `obelysk build`, into $(TARGET_DIR)/plugins/.
plugins: build
	@$(MAKE) --no-print-directory plugins-only

# Build a plugin, start an embedded node on a free port, upload, run jobs, print, stop.
demo: plugins
	@$(MAKE) --no-print-directory demo-only

# `make test` reuses the binary its own `cargo test` built (same feature set, no rebuild).
# Tests named `timing_*` compare predicted with measured times: they run alone, after the rest.
test: toolchain
	$(CARGO) fmt --all --check
	$(CARGO) clippy -j$(CARGO_JOBS) --workspace --all-targets -- -D warnings
	$(CARGO) test -j$(CARGO_JOBS) --workspace -- --skip timing_
	$(CARGO) test -j$(CARGO_JOBS) -p obelysk-node --test e2e timing_
	@$(MAKE) --no-print-directory plugins-only demo-only

plugins-only:
	@for p in $(PLUGINS); do $(OBELYSK) build plugins/$$p -o $(TARGET_DIR)/plugins/$$p.wasm >/dev/null || exit 1; done

demo-only:
	@OBELYSK=$(OBELYSK) PLUGINS_DIR=$(TARGET_DIR)/plugins bash tests/demo.sh

bench: plugins
	$(CARGO) bench -j$(CARGO_JOBS) -p obelysk-benches

fmt: toolchain
	$(CARGO) fmt --all

lint: toolchain
	$(CARGO) clippy -j$(CARGO_JOBS) --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf plugins/target
