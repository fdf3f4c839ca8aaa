# Entry points used by the README and .ci/run. Machines here have 2 cores: -j2 throughout.
CARGO_JOBS ?= 2
CARGO := cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
OBELYSK := $(TARGET_DIR)/debug/obelysk
PLUGINS := fibonacci sum-array collatz sha256 matmul keccak256 json-order merkle-proof mlp
# The local Starknet the chain tests run against: pinned, built once into a cache that outlives
# clones (a cold build takes ~20 min on 2 cores, so it is optimised less than a release build).
DEVNET_VERSION := 0.10.1
DEVNET_ROOT := $(HOME)/.cache/obelysk/starknet-devnet-$(DEVNET_VERSION)
export OBELYSK_DEVNET ?= $(DEVNET_ROOT)/bin/starknet-devnet
# Stable Rust with its wasm32 standard library: a guest built the ordinary way (plain `cargo
# build --target wasm32-unknown-unknown`, no Obelysk tooling) must prove (tests/cli.rs).
export OBELYSK_STABLE_RUST ?= 1.95.0
# NVRTC from PyPI (no GPU needed): the tests compile every CUDA kernel with it.
NVRTC_LIB := $(HOME)/.cache/obelysk/nvrtc-13.0.88/lib
# The browser verifier: host/web-verifier for wasm32 (std built from source), wrapped by the
# wasm-bindgen CLI of exactly the version that crate pins (`=`), installed once into the cache.
# (Not `--locked`: the CLI's own lock file names a webpki-roots release the registry lacks.)
WASM_BINDGEN_VERSION := $(shell sed -n 's/^wasm-bindgen = "=\(.*\)"$$/\1/p' host/web-verifier/Cargo.toml)
WASM_BINDGEN := $(HOME)/.cache/obelysk/wasm-bindgen-$(WASM_BINDGEN_VERSION)/bin/wasm-bindgen
WEB_VERIFIER_PKG := host/web-verifier/pkg
TEST_ENV := LD_LIBRARY_PATH=$(NVRTC_LIB)$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH} OBELYSK_REQUIRE_NVRTC=1 \
	OBELYSK_REQUIRE_BROWSER=1

.PHONY: wasm-bindgen web-verifier browser stable-wasm toolchain build plugins demo test test-release fuzz bench fmt lint clean plugins-only demo-only devnet contract nvrtc verifier-deps postgres

# RUSTUP_AUTO_INSTALL=0 on these machines: install the pinned toolchain first (no-op when present).
toolchain:
	@rustup toolchain install >/dev/null

stable-wasm:
	@rustup toolchain install $(OBELYSK_STABLE_RUST) --profile minimal \
		--target wasm32-unknown-unknown >/dev/null

# Installed from outside the repository, so with the machine's default toolchain, not the pin.
devnet:
	@test -x $(OBELYSK_DEVNET) || (cd $(HOME) && CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
		$(CARGO) install --locked --version $(DEVNET_VERSION) --root $(DEVNET_ROOT) \
		-j$(CARGO_JOBS) starknet-devnet)

# Pinned wheel, checked by sha256, unpacked into the cache (see kernels/install-nvrtc.sh).
nvrtc:
	@kernels/install-nvrtc.sh >/dev/null

# PostgreSQL from Debian's packages: the store suite and the shared-queue tests start their own
# throwaway servers with its binaries (store::temp_postgres).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends postgresql >/dev/null)

# Debian's Chromium and its ChromeDriver: the browser tests (tests/browser.rs) drive them.
browser:
	@command -v chromedriver >/dev/null && command -v chromium >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends chromium chromium-driver >/dev/null)

wasm-bindgen:
	@test -n "$(WASM_BINDGEN_VERSION)" || \
		(echo 'host/web-verifier/Cargo.toml must pin wasm-bindgen = "=X.Y.Z"' >&2; exit 1)
	@test -x $(WASM_BINDGEN) || (cd $(HOME) && $(CARGO) install --version $(WASM_BINDGEN_VERSION) \
		--root $(HOME)/.cache/obelysk/wasm-bindgen-$(WASM_BINDGEN_VERSION) -j$(CARGO_JOBS) \
		wasm-bindgen-cli)

# Writes $(WEB_VERIFIER_PKG), which the node embeds (host/node/build.rs). Files are replaced
# only when their bytes change, so an unchanged verifier does not rebuild the node.
web-verifier: toolchain wasm-bindgen
	$(CARGO) build -j$(CARGO_JOBS) -p obelysk-web-verifier --target wasm32-unknown-unknown \
		-Zbuild-std=std,panic_abort --profile web
	@rm -rf $(TARGET_DIR)/web-verifier-pkg
	$(WASM_BINDGEN) --target web --no-typescript --out-dir $(TARGET_DIR)/web-verifier-pkg \
		$(TARGET_DIR)/wasm32-unknown-unknown/web/obelysk_web_verifier.wasm
	@mkdir -p $(WEB_VERIFIER_PKG) && for f in $(TARGET_DIR)/web-verifier-pkg/*; do \
		cmp -s $$f $(WEB_VERIFIER_PKG)/$$(basename $$f) || cp $$f $(WEB_VERIFIER_PKG)/; done

# Rebuild the registry contract's class files from host/chain/contract/src (see its build.sh).
contract:
	host/chain/contract/build.sh

build: toolchain web-verifier
	$(CARGO) build -j$(CARGO_JOBS) -p obelysk-node

# Every first-party plugin, built with `obelysk build`, into $(TARGET_DIR)/plugins/.
plugins: build
	@$(MAKE) --no-print-directory plugins-only

# Build a plugin, start an embedded node on a free port, upload, run jobs, print, stop.
demo: plugins
	@$(MAKE) --no-print-directory demo-only

# `make test` reuses the binary its own `cargo test` built (same feature set, no rebuild).
# Tests named `timing_*` compare predicted with measured times: they run alone, after the rest.
test: toolchain stable-wasm devnet nvrtc postgres browser web-verifier
	$(CARGO) fmt --all --check
	host/chain/contract/build.sh --check
	$(CARGO) clippy -j$(CARGO_JOBS) --workspace --all-targets -- -D warnings
	@$(MAKE) --no-print-directory verifier-deps
	$(TEST_ENV) $(CARGO) test -j$(CARGO_JOBS) --workspace -- --skip timing_
	$(TEST_ENV) $(CARGO) test -j$(CARGO_JOBS) --workspace --test e2e timing_
	@$(MAKE) --no-print-directory test-release

# What a verifier links (the module check, lowering, AIR verification) must build without
# wasmtime: the sandbox is its own crate (host/sandbox). Fails if either crate pulls it in.
verifier-deps:
	@for c in obelysk-vm obelysk-air; do \
		if $(CARGO) tree -e normal -p $$c -i wasmtime 2>/dev/null | grep -q wasmtime; then \
			echo "$$c links wasmtime:"; $(CARGO) tree -e normal -p $$c -i wasmtime; exit 1; fi; done

# The verifier's tamper and mutation tests again in release: overflow checks and debug
# assertions are off there, so a non-canonical value or a bad shape behaves differently.
test-release:
	$(TEST_ENV) $(CARGO) test -j$(CARGO_JOBS) --release -p obelysk-prover --test proof_tampering --test mutations
	$(TEST_ENV) $(CARGO) test -j$(CARGO_JOBS) --release -p obelysk-vm --test mutations
	@$(MAKE) --no-print-directory plugins-only demo-only

plugins-only:
	@for p in $(PLUGINS); do $(OBELYSK) build plugins/$$p -o $(TARGET_DIR)/plugins/$$p.wasm >/dev/null || exit 1; done

demo-only:
	@OBELYSK=$(OBELYSK) PLUGINS_DIR=$(TARGET_DIR)/plugins bash tests/demo.sh

# libFuzzer with ASan on both fuzz targets (host/fuzz), FUZZ_SECONDS each; not part of `make
# test` (the sanitizer build takes ~8 min), which replays the same entry points instead.
FUZZ_SECONDS ?= 120
fuzz: toolchain
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked -j$(CARGO_JOBS) cargo-fuzz
	cd host/fuzz && CARGO_TARGET_DIR=$(abspath $(TARGET_DIR)) $(CARGO) run -j$(CARGO_JOBS) --bin seeds
	cd host/fuzz && for t in verify_proof lower_module; do \
		CARGO_BUILD_JOBS=$(CARGO_JOBS) $(CARGO) fuzz run --fuzz-dir . $$t corpus/$$t -- \
		-max_total_time=$(FUZZ_SECONDS) -seed=1 -malloc_limit_mb=64 -rss_limit_mb=4096 || exit 1; done

bench: plugins
	$(CARGO) bench -j$(CARGO_JOBS) -p obelysk-benches

fmt: toolchain
	$(CARGO) fmt --all

lint: toolchain
	$(CARGO) clippy -j$(CARGO_JOBS) --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf plugins/target
