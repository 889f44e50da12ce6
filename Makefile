GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: test test-race test-alloc bench bench-binaries fuzz vet build dist install interop conformance mutate

# What CI runs (see .ci/run): the suite under the race detector, then the
# allocation checks, which the race detector would distort.
test: vet test-race test-alloc

vet:
	$(GO) vet ./...

test-race:
	$(GO) test -race -count=1 ./...

test-alloc:
	$(GO) test -count=1 -run 'Allocat' ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...

# An execution count: durations trip golang/go#75804 on loaded machines.
FUZZTIME ?= 300000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParser$$' -fuzztime $(FUZZTIME) ./pkg/codec
	$(GO) test -run '^$$' -fuzz '^FuzzUTF8Validator$$' -fuzztime $(FUZZTIME) ./pkg/codec
	$(GO) test -run '^$$' -fuzz '^FuzzParseClose$$' -fuzztime $(FUZZTIME) ./pkg/codec
	$(GO) test -run '^$$' -fuzz '^FuzzInflate$$' -fuzztime $(FUZZTIME) ./pkg/codec
	$(GO) test -run '^$$' -fuzz '^FuzzParseRequest$$' -fuzztime $(FUZZTIME) ./pkg/poller
	$(GO) test -run '^$$' -fuzz '^FuzzRequestSpellings$$' -fuzztime $(FUZZTIME) ./pkg/poller

# Mutation testing (docs/mutations.md): prints the mutants no test kills;
# compare them with docs/mutation-baseline.txt. Slow (tens of minutes per
# package on two cores), so not in CI: run it before each release.
GREMLINS ?= $(GO) run github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
MUTATE_PKGS ?= ./pkg/codec ./pkg/session ./pkg/poller
mutate:
	for p in $(MUTATE_PKGS); do $(GREMLINS) unleash --workers 1 --timeout-coefficient 5 -S lt $$p || exit 1; done

# Independent clients against the real binary: Python websockets, Node ws and
# headless Chromium on the demo page. Needs python3-websockets and chromium
# (apt) and `npm ci --prefix test/interop/node`; with CI set, missing ones fail.
interop:
	$(GO) test -count=1 -v ./test/interop

# The Autobahn-style RFC 6455 / RFC 7692 suite against the real binary.
conformance:
	$(GO) test -count=1 -v ./test/conformance

# A static linux/amd64 binary, version from git describe.
build:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/gateway ./cmd/gateway

# A release tarball: the binary, the example and default configuration, the
# systemd unit, the nginx and sysctl files, the docs and install.sh.
DIST := gateway-$(VERSION)-linux-amd64
dist: build
	rm -rf dist/$(DIST) && mkdir -p dist/$(DIST)/bin dist/$(DIST)/deploy
	cp bin/gateway dist/$(DIST)/bin/
	cp -r deploy/systemd deploy/nginx deploy/sysctl deploy/install.sh deploy/README.md deploy/gateway.yaml dist/$(DIST)/deploy/
	cp cmd/gateway/gateway.yaml dist/$(DIST)/deploy/gateway.defaults.yaml
	cp README.md dist/$(DIST)/
	tar -C dist -czf dist/$(DIST).tar.gz $(DIST)
	@echo dist/$(DIST).tar.gz

# Static binaries for bench/run.sh on a machine without Go:
#   make bench-binaries && scp -r bin/bench host: && ssh host 'BIN=bench bench/run.sh'
bench-binaries:
	mkdir -p bin/bench
	for p in cmd/gateway:gateway bench/baseline:baseline bench/gwsserver:gwsserver bench:bench; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -o bin/bench/$${p#*:} ./$${p%%:*} || exit 1; \
	done

# Installs binary, unit, config (kept if present), sysctl and nginx files,
# and creates the gateway user. Idempotent; needs root.
install: build
	deploy/install.sh
