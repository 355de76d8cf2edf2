# cachet-updater. `make help` lists the targets.
GO        ?= go
BIN       := bin/cachet-updater
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The full commit hash, with -dirty when the tree has uncommitted changes
# (--exclude='*': no tag name, only the hash).
COMMIT    ?= $(shell git describe --always --dirty --abbrev=40 --exclude='*' 2>/dev/null)
# UTC; SOURCE_DATE_EPOCH (reproducible builds) sets it when given.
DATE      ?= $(shell date -u $${SOURCE_DATE_EPOCH:+-d @$$SOURCE_DATE_EPOCH} +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
STATICCHECK_VERSION := v0.8.2
FUZZTIME  ?= 10s

.PHONY: help build test lint demo bench bench-go fuzz acceptance clean

help:
	@echo "make build   static binary in $(BIN) (CGO_ENABLED=0)"
	@echo "make test    all tests with the race detector (set CU_TEST_MYSQL_DSN / CU_TEST_POSTGRES_DSN for the database tests)"
	@echo "make lint    gofmt, go vet, go mod tidy -diff, staticcheck"
	@echo "make demo    the real run job against a built-in Cachet emulator and demo servers"
	@echo "make bench   fleet benchmark (N = 100, 1000, 10000) and Go benchmarks"
	@echo "make fuzz    each fuzz target for FUZZTIME ($(FUZZTIME))"
	@echo "make acceptance  the acceptance suite against the Cachet in CU_ACCEPTANCE_CACHET_URL / _TOKEN (docs/cachet.md: Acceptance)"

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/cachet-updater

test:
	$(GO) test -race -count=1 ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: run gofmt -w on the files above"; exit 1; }
	$(GO) vet ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

demo:
	$(GO) run ./cmd/cachet-updater demo

# The fleet benchmark: the real binary against 100, 1,000 and 10,000 loopback
# servers (1s probe timeout) and a bare TCP client against 10,000 (the
# machine's floor), then both at the default 10s timeout; then the Go
# benchmarks. See docs/benchmarks.md.
bench: build
	$(GO) run ./cmd/benchfleet -bin $(BIN) -n 100,1000,10000 -timeout 1s
	$(GO) run ./cmd/benchfleet -bin $(BIN) -n 10000 -timeout 10s
	$(MAKE) bench-go

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/config
	$(GO) test -run '^$$' -fuzz '^FuzzParseCodeMap$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/status
	$(GO) test -run '^$$' -fuzz '^FuzzCounts$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/reports
	$(GO) test -run '^$$' -fuzz '^FuzzEvents$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/reports

# Against a live Cachet (2.x or 3.x): CU_ACCEPTANCE_CACHET_URL and
# CU_ACCEPTANCE_CACHET_TOKEN; without them it skips and says so. make test
# runs the same suite against the emulator (TestEmulator).
acceptance:
	$(GO) test -tags acceptance -count=1 -v -run '^TestLive$$' ./acceptance

clean:
	rm -rf bin
