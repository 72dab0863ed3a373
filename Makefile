# Thin wrapper: the real build is CMake. `make run` and `make test` work on a fresh Debian
# machine: they install what is missing, configure, build, then serve or test.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
LISTEN ?= 127.0.0.1:8080
# The fuzz build (clang, libFuzzer, ASan + UBSan): its own folder, never mixed with g++'s.
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer

.PHONY: all deps configure build install run cluster-demo test test-asan test-tsan coverage bench \
	chaos format clean fuzz-build fuzz fuzz-corpus

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release > $(BUILD_DIR).configure.log 2>&1 \
		|| (cat $(BUILD_DIR).configure.log; exit 1)

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

# The engine library, its headers, CMake package and pkg-config file, and the server program
# (docs/embedding.md). PREFIX=/usr/local by default; DESTDIR is honoured.
PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD_DIR) --prefix $(PREFIX)

run: build
	@echo ""
	@echo "streamgate on http://$(LISTEN) (built-in mock provider, model \"mock\")."
	@echo "Try, in another terminal:"
	@echo ""
	@echo "  curl -N http://$(LISTEN)/v1/chat/completions -H 'Content-Type: application/json' \\"
	@echo "    -d '{\"model\":\"mock\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'"
	@echo ""
	@echo "or open http://$(LISTEN)/ in a browser. Ctrl-C stops the server gracefully."
	@echo "Metrics and /admin are on the admin listener, http://127.0.0.1:$$(( $(lastword $(subst :, ,$(LISTEN))) + 1 ))/metrics"
	@echo ""
	@exec $(BUILD_DIR)/streamgate --listen $(LISTEN) --web-root web

# Three cluster nodes (docs/cluster.md) behind nginx as the load balancer, on
# http://127.0.0.1:$(DEMO_PORT) (scripts/cluster-demo.sh; its --check is the ctest
# tools_cluster_demo_check). Work dir $(BUILD_DIR)/cluster-demo; Ctrl-C stops everything.
DEMO_PORT ?= 8090
cluster-demo: build
	@DEMO_PORT=$(DEMO_PORT) STREAMGATE_BIN=$(BUILD_DIR)/streamgate DEMO_DIR=$(BUILD_DIR)/cluster-demo \
		exec ./scripts/cluster-demo.sh

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 300

# The whole suite again, built with sanitizers (or coverage) in folders of their own
# (docs/testing.md). CTEST_ARGS narrows the run, e.g. CTEST_ARGS='-L unit'.
test-asan: deps
	@JOBS=$(JOBS) ./scripts/test-variant.sh asan build-asan $(CTEST_ARGS)

test-tsan: deps
	@JOBS=$(JOBS) ./scripts/test-variant.sh tsan build-tsan $(CTEST_ARGS)

coverage: deps
	@JOBS=$(JOBS) ./scripts/test-variant.sh coverage build-coverage $(CTEST_ARGS)

# bench/run.sh (docs/benchmarks.md), then what cluster mode costs (bench/cluster_bench.py,
# ~1 min): TTFT with a remote quota pool and the leases/s one pool owner grants, as ratios
# to references of the same run; JSON in $(BUILD_DIR)/bench/cluster.json.
bench: build
	@./bench/run.sh $(BUILD_DIR)
	@python3 bench/cluster_bench.py --build $(BUILD_DIR)

fuzz-build: deps
	@cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
		-DSG_FUZZ=ON -DCMAKE_CXX_FLAGS="$(FUZZ_FLAGS)" \
		-DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > $(FUZZ_DIR).configure.log 2>&1 \
		|| (cat $(FUZZ_DIR).configure.log; exit 1)
	@cmake --build $(FUZZ_DIR) -j$(JOBS) --target fuzz_targets

# Each target fuzzes FUZZ_SECONDS on its corpus (new inputs go to $(FUZZ_DIR)/fuzz-work).
fuzz: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_DIR) fuzz $(FUZZ_SECONDS)

# Each target runs once over its committed corpus, without fuzzing: fails on any crash.
fuzz-corpus: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_DIR) corpus

# Chaos scenarios against a real server (docs/chaos.md). SCENARIO=a,b (default: all),
# SEED=N (default: the fixed seed of tools/chaos/chaos.py), DURATION=S of load for all the
# scenarios together (default: the short pass, 45 s); a soak is DURATION=1800.
SCENARIO ?=
SEED ?=
DURATION ?=
chaos: build
	@python3 tools/chaos/chaos.py --streamgate $(BUILD_DIR)/streamgate \
		--fake-upstream $(BUILD_DIR)/tools/fake_upstream/fake-upstream \
		--loadgen $(BUILD_DIR)/tools/loadgen/loadgen --json $(BUILD_DIR)/chaos-report.json \
		$(if $(SCENARIO),--scenario $(SCENARIO)) $(if $(SEED),--seed $(SEED)) \
		$(if $(DURATION),--duration $(DURATION))

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	@rm -rf $(BUILD_DIR) $(BUILD_DIR).configure.log build-asan build-tsan build-coverage \
		build-asan.configure.log build-tsan.configure.log build-coverage.configure.log \
		$(FUZZ_DIR) $(FUZZ_DIR).configure.log
