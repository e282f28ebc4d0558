# kubectl-alertmend. `make help` lists the targets.

BINARY  := kubectl-alertmend
BINDIR  ?= /usr/local/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -s -w -X github.com/alertmend/kubectl-alertmend/pkg/version.Version=$(VERSION) \
           -X github.com/alertmend/kubectl-alertmend/pkg/version.Commit=$(COMMIT)
# Fuzzing budgets are counts of executions, not durations: with a duration, Go 1.26's fuzz
# coordinator can end a clean run in "context deadline exceeded" (golang/go#75804, fixed in 1.27),
# which failed CI with no crasher found. A count has no deadline to race.
FUZZTIME ?= 10000x
FUZZMIN  ?= 200x
SIZES    ?= 10000
RUNS     ?= 3
RELEASE_PLATFORMS ?= host

.PHONY: help build install demo tools test test-unit fuzz corpus bench check docs release-check dist clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## Build bin/kubectl-alertmend
	go build -ldflags "$(LDFLAGS)" -o bin/$(BINARY) ./cmd/kubectl-alertmend

install: build ## Install kubectl-alertmend and its kubectl completion script into BINDIR (default /usr/local/bin)
	install -d $(BINDIR)
	install -m 0755 bin/$(BINARY) $(BINDIR)/$(BINARY)
	install -m 0755 cmd/kubectl_complete-alertmend/kubectl_complete-alertmend $(BINDIR)/kubectl_complete-alertmend

# The demo is built, not go run: go run exits 1 when Ctrl-C reaches it, even after the demo has
# stopped cleanly.
demo: build ## Watch a living local cluster while a rollout breaks and is undone; then diagnose an incident scenario once, stop (KEEP=1: stay up until Ctrl-C)
	go run ./hack/ensure-tools -for demo
	go build -o bin/alertmend-demo ./hack/demo
	bin/alertmend-demo -binary bin/$(BINARY)$(if $(filter-out 0,$(KEEP)), -keep)

tools: ## Build the test tools once per machine (kube-apiserver, etcd, kubectl, node_exporter, Pushgateway, Alertmanager, kube-controller-manager, kube-scheduler, kwok)
	go run ./hack/ensure-tools -for test

test: check tools release-check ## Run the whole test suite: unit, end-to-end against a real API server (build tag e2e), fuzzing, release check
	go test -race -tags e2e -timeout 20m ./...
	$(MAKE) fuzz

test-unit: ## Every test that needs no control plane: all packages, without the e2e build tag
	go test ./...

fuzz: ## Fuzz every loader and parser of outside input, each for FUZZTIME executions
	go test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMIN) ./pkg/snapshot
	go test -run '^$$' -fuzz '^FuzzReadFile$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMIN) ./pkg/snapshot
	go test -run '^$$' -fuzz '^FuzzParseCorefile$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMIN) ./checks/dns
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMIN) ./pkg/config
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMIN) ./pkg/cmdline

bench: build tools ## Time diagnose, rbac-audit and -f on a seeded local control plane (SIZES=1000,10000,50000 RUNS=3), and the Go benchmarks
	go test -run '^$$' -bench . -benchmem ./checks/...
	go test -run '^$$' -bench Decode -benchmem ./pkg/collect
	go test -run '^$$' -bench Incidents -benchmem ./pkg/engine
	go test -run '^$$' -bench Reevaluate -benchmem ./pkg/watch
	go run ./hack/bench -binary bin/$(BINARY) -sizes $(SIZES) -runs $(RUNS)

corpus: ## Measure agreement with other tools' labelled fixtures in ../shared/corpus
	go run ./hack/corpus -corpus ../shared/corpus

release-check: ## Check the release offline: goreleaser check and snapshot archives (RELEASE_PLATFORMS=host or all), .krew.yaml validated and installed by krew
	go run ./hack/release-check -platforms $(RELEASE_PLATFORMS)

check: ## gofmt, and go vet with and without the e2e build tag
	@unformatted=$$(gofmt -l cmd pkg checks internal hack); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags e2e ./...

docs: ## Write README.md's table of checks from the catalog
	go run ./hack/docs

dist: ## Build every platform's release archives into dist/ with goreleaser, and check them with krew
	go run ./hack/release-check -platforms all

clean: ## Remove build output
	rm -rf bin dist
