# kubectl-alertmend. `make help` lists the targets.

BINARY  := kubectl-alertmend
BINDIR  ?= /usr/local/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -s -w -X github.com/alertmend/kubectl-alertmend/pkg/version.Version=$(VERSION) \
           -X github.com/alertmend/kubectl-alertmend/pkg/version.Commit=$(COMMIT)
FUZZTIME ?= 20s
SIZES    ?= 10000
RUNS     ?= 3
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64

.PHONY: help build install demo tools test test-unit fuzz corpus bench check dist clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## Build bin/kubectl-alertmend
	go build -ldflags "$(LDFLAGS)" -o bin/$(BINARY) ./cmd/kubectl-alertmend

install: build ## Install kubectl-alertmend into BINDIR (default /usr/local/bin), so `kubectl alertmend` works
	install -d $(BINDIR)
	install -m 0755 bin/$(BINARY) $(BINDIR)/$(BINARY)

demo: build tools ## Start a local control plane, load an incident scenario, diagnose it, stop
	go run ./hack/demo -binary bin/$(BINARY)

tools: ## Build the test control plane (kube-apiserver, etcd) once per machine
	go run ./hack/ensure-tools

test: check tools ## Run the whole test suite: unit, end-to-end against a real API server, fuzzing
	go test -race -timeout 20m ./...
	$(MAKE) fuzz

test-unit: ## Only the tests that need no control plane
	go test ./pkg/check/... ./pkg/engine/... ./pkg/render/... ./pkg/snapshot/... ./checks/...

fuzz: ## Fuzz the manifest loader and the Corefile parser, each for FUZZTIME
	go test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./pkg/snapshot
	go test -run '^$$' -fuzz '^FuzzParseCorefile$$' -fuzztime $(FUZZTIME) ./checks/dns

bench: build tools ## Time diagnose, rbac-audit and -f on a seeded local control plane (SIZES=1000,10000,50000 RUNS=3), and the Go benchmarks
	go test -run '^$$' -bench . -benchmem ./checks/...
	go run ./hack/bench -binary bin/$(BINARY) -sizes $(SIZES) -runs $(RUNS)

corpus: ## Measure agreement with other tools' labelled fixtures in ../shared/corpus
	go run ./hack/corpus -corpus ../shared/corpus

check: ## gofmt and go vet
	@unformatted=$$(gofmt -l cmd pkg checks internal hack); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...

dist: ## Cross-compile release archives into dist/ (for the krew manifest)
	rm -rf dist && mkdir -p dist
	for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  dir=dist/$(BINARY)_$${os}_$${arch}; mkdir -p $$dir; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -ldflags "$(LDFLAGS)" -o $$dir/$(BINARY)$$ext ./cmd/kubectl-alertmend || exit 1; \
	  cp LICENSE $$dir/; tar -C $$dir -czf $$dir.tar.gz .; rm -rf $$dir; \
	done
	cd dist && sha256sum *.tar.gz > checksums.txt

clean: ## Remove build output
	rm -rf bin dist
