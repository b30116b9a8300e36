# dzong: the two commands of the README, and their parts.
#   make run   installs what is missing, builds, initialises ./dzong-data with demo data, serves :8080
#   make test  installs what is missing, builds, runs every test suite
SHELL := /bin/bash
DATA  ?= ./dzong-data

# Debian 12 packages: to build and run; to test besides.
PKGS_BUILD := gcc meson ninja-build pkg-config python3 libmicrohttpd-dev libjansson-dev \
              libsqlite3-dev libpq-dev libsodium-dev libcmocka-dev libidn2-dev libxxhash-dev \
              libcurl4-openssl-dev libgpgme-dev gnupg
PKGS_TEST  := clang libclang-rt-14-dev sqlite3 chromium postgresql python3-aiosmtpd

.PHONY: run test deps deps-test build build-asan build-fuzz unit bench clean

# Installs only what dpkg does not have yet, so a prepared machine does not touch apt at all.
define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  if [ "$$(id -u)" -ne 0 ]; then echo "need root to install: $$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(PKGS_BUILD))

deps-test: deps
	$(call apt_install,$(PKGS_TEST))
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	@cd tests/browser && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error; }

build: deps
	@[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null
	@ninja -C build

build-asan: deps
	@[ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	@ninja -C build-asan

build-fuzz: deps-test
	@[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false \
	  -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	@ninja -C build-fuzz

run: build
	@[ -f $(DATA)/dzong.db ] || ./build/dzong --data $(DATA) init --demo
	./build/dzong --data $(DATA) serve

test: deps-test build build-asan build-fuzz
	@tests/run_all.sh

unit: build
	meson test -C build --suite unit --print-errorlogs

bench:
	@[ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release -Dbench=true >/dev/null
	@meson configure build-bench -Dbench=true >/dev/null
	@ninja -C build-bench
	bench/incidents.sh build-bench/dzong
	build-bench/bench/netindex_bench
	build-bench/bench/registry_bench
	build-bench/bench/pipeline_bench
	bench/notify.sh build-bench

clean:
	rm -rf build build-asan build-fuzz build-bench
