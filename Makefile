# Thin wrapper over CMake. `make bench` and `make test` are the two commands
# the README opens with; both install missing packages first.
JOBS ?= $(shell nproc)
BUILD ?= build
FUZZ_SECONDS ?= 20

.PHONY: all deps build test sanitize tsan fuzz bench bench-gate clean

all: build

deps:
	@scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -DMCP_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: deps build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize: deps
	@cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DMCP_WERROR=ON -DMCP_SANITIZE=ON >/dev/null
	@cmake --build build-sanitize -j $(JOBS)
	@cd build-sanitize && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS) -L unit

# Unit tests under ThreadSanitizer: worker loops, tool threads, pools and
# exporters share sessions and queues. tests/sanitizers/tsan.supp says why
# each suppression is there.
tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DMCP_WERROR=ON -DMCP_SANITIZE_THREAD=ON >/dev/null
	@cmake --build build-tsan -j $(JOBS)
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/sanitizers/tsan.supp" \
	  ctest --output-on-failure -j $(JOBS) -L unit

# libFuzzer targets, each run for FUZZ_SECONDS.
fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMCP_FUZZ=ON -DMCP_TESTS=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	@scripts/run-fuzzers.sh build-fuzz $(FUZZ_SECONDS)

# Release build, then the quick profile of every benchmark module.
bench: deps
	@cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DMCP_TESTS=OFF >/dev/null
	@cmake --build build-release -j $(JOBS) --target mcpd
	@build-release/mcpd bench run --quick --out bench/results
	@build-release/mcpd bench report --out bench/results/report.html
	@build-release/mcpd bench compare

# Instruction counts of the core_ops and json workloads against the newest
# baseline: deterministic, so CI can fail on a small change.
bench-gate: deps
	@cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DMCP_TESTS=OFF >/dev/null
	@cmake --build build-release -j $(JOBS) --target mcpd
	@build-release/mcpd bench compare --deterministic

clean:
	rm -rf build build-sanitize build-tsan build-fuzz build-release
