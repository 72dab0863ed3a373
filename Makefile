# Thin wrapper: the real build is CMake. `make run` and `make test` work on a fresh Debian
# machine: they install what is missing, configure, build, then serve or test.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
LISTEN ?= 127.0.0.1:8080

.PHONY: all deps configure build run test bench format clean

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release > $(BUILD_DIR).configure.log 2>&1 \
		|| (cat $(BUILD_DIR).configure.log; exit 1)

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	@echo ""
	@echo "streamgate on http://$(LISTEN) (built-in mock provider, model \"mock\")."
	@echo "Try, in another terminal:"
	@echo ""
	@echo "  curl -N http://$(LISTEN)/v1/chat/completions -H 'Content-Type: application/json' \\"
	@echo "    -d '{\"model\":\"mock\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'"
	@echo ""
	@echo "or open http://$(LISTEN)/ in a browser. Ctrl-C stops the server gracefully."
	@echo ""
	@exec $(BUILD_DIR)/streamgate --listen $(LISTEN) --web-root web

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 300

bench: build
	@./bench/run.sh $(BUILD_DIR)

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	@rm -rf $(BUILD_DIR) $(BUILD_DIR).configure.log
