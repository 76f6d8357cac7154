# replaygate — the two commands are `make demo` and `make test`.
GO      ?= go
WEB     := inject/web
VIEWER  := viewer/web
BIN     := bin/replaygate
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# FUZZTIME: executions (or a duration) per fuzz target; empty means the
# script's defaults (10000x, fewer for the slowest targets).
FUZZTIME ?=

.PHONY: all build web demo test test-go test-web fuzz bench deps-browser deps-bench docker clean

all: build

## build: the browser bundles, then the binary
build: web
	$(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/replaygate

## web: install pinned npm packages, build gate.js / recorder.js (inject/web/dist) and the viewer (viewer/web/dist)
web: $(WEB)/node_modules/.installed $(VIEWER)/node_modules/.installed
	cd $(WEB) && node build.mjs
	cd $(VIEWER) && node build.mjs

%/node_modules/.installed: %/package-lock.json
	cd $* && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## demo: the demo site behind the proxy, local store and viewer
demo: build
	./$(BIN) demo

## test: every test (Go unit + integration, browser e2e, web unit tests, short fuzz runs)
test: web deps-browser
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(MAKE) test-web
	$(MAKE) fuzz

test-web:
	cd $(WEB) && npm test --silent
	cd $(VIEWER) && npm test --silent

## fuzz: a short run of every Go fuzz target (corpus in testdata/fuzz)
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz-short.sh

## bench: reproducible benchmarks against peers (nginx, bare reverse proxy); see docs/benchmarks.md
bench: build deps-bench
	./bench/run.sh

## deps-browser: Debian's chromium for the real-browser tests, if missing
deps-browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium (Debian package)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## deps-bench: wrk and nginx for make bench, if missing
deps-bench:
	@{ command -v wrk >/dev/null 2>&1 && command -v nginx >/dev/null 2>&1; } || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null; }

docker:
	docker build -t replaygate:$(VERSION) .

clean:
	rm -rf bin $(WEB)/dist/*.js $(WEB)/dist/*.gz $(WEB)/dist/*.br $(VIEWER)/dist/*.js $(VIEWER)/dist/*.css
