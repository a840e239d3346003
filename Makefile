# Causeway's build. Go is pinned to the version go.mod needs, downloaded by the go command.
export GOTOOLCHAIN := go1.27.3
# mautrix-go's pure-Go olm for the end-to-end encryption test's clients (no C libolm needed).
export GOFLAGS := -tags=goolm
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build run test test-postgres lint bench

build:
	go build -ldflags "$(LDFLAGS)" -o bin/causeway ./cmd/causeway

# Zero configuration: SQLite under ./data, listening on http://localhost:8008.
run: build
	./bin/causeway serve

# The whole suite on SQLite, and on PostgreSQL too when CAUSEWAY_TEST_POSTGRES is set.
test:
	go vet ./...
	go test -count=1 ./...

lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt would change:"; gofmt -l .; exit 1)
	go vet ./...

bench:
	go test -run '^$$' -bench . -benchtime 2s ./homeserver/... ./appservice/... ./bridges/... ./migration/...
