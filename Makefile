# weir's build. `make demo` runs weir end to end on a local embedded setup; `make test` runs
# every test, the ones on the real control plane included.

SHELL := /usr/bin/env bash
GO ?= go
K8S_VERSION := v1.32.3
WEIR_CACHE_DIR ?= $(HOME)/.cache/weir
ENVTEST_DIR := $(WEIR_CACHE_DIR)/envtest/$(K8S_VERSION)
TOOLS_DIR := $(WEIR_CACHE_DIR)/tools
CONTROLLER_GEN_VERSION := v0.19.0
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(TOOLS_DIR)/golangci-lint-$(GOLANGCI_LINT_VERSION)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/weirgitops/weir/internal/version.Version=$(VERSION) -X github.com/weirgitops/weir/internal/version.Commit=$(COMMIT)
TEST_TIMEOUT ?= 60m

CRD_PATHS := \
	paths=github.com/fluxcd/source-controller/api/v1 \
	paths=github.com/fluxcd/kustomize-controller/api/v1 \
	paths=github.com/fluxcd/helm-controller/api/v2 \
	paths=github.com/fluxcd/notification-controller/api/v1 \
	paths=github.com/fluxcd/notification-controller/api/v1beta3 \
	paths=github.com/fluxcd/image-reflector-controller/api/v1 \
	paths=github.com/fluxcd/image-automation-controller/api/v1 \
	paths=./api/hops/v1alpha1
# weir's own API types, whose deepcopy functions controller-gen writes too.
OBJECT_PATHS := paths=./api/hops/v1alpha1

export KUBEBUILDER_ASSETS := $(ENVTEST_DIR)
export GONOSUMDB := k8s.io

.PHONY: all build test test-faults unit fuzz lint vet crds check-crds deps check-deps envtest demo bench image clean

all: build

build: ## Build bin/weir as the image builds it: static (no cgo), paths trimmed.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/weir ./cmd/weir

envtest: $(ENVTEST_DIR)/.built ## Build etcd, kube-apiserver, kube-controller-manager and kubectl from Go modules.

$(ENVTEST_DIR)/.built: tools/envtest/go.mod tools/envtest/go.sum
	mkdir -p $(ENVTEST_DIR)
	cd tools/envtest && GOFLAGS=-mod=mod $(GO) build -o $(ENVTEST_DIR)/ ./cmd/...
	touch $@

crds: ## Regenerate config/crd/bases from the Flux API type modules and weir's api/.
	rm -f config/crd/bases/*.yaml
	$(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION) object $(OBJECT_PATHS)
	$(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION) crd $(CRD_PATHS) output:crd:artifacts:config=config/crd/bases

check-crds: ## Fail when regenerating the CRDs would change them.
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	$(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION) crd $(CRD_PATHS) output:crd:artifacts:config=$$tmp && \
	diff -r $$tmp config/crd/bases || { echo "config/crd/bases is stale: run 'make crds' and commit"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && cp -r api $$tmp/ && \
	$(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION) object $(OBJECT_PATHS) && \
	diff -r $$tmp/api api || { cp -r $$tmp/api/. api/; echo "api/ deepcopy is stale: run 'make crds' and commit"; exit 1; }

deps: ## Refresh the checked-in list of modules that the weir binary links.
	$(GO) list -deps -f '{{with .Module}}{{.Path}} {{.Version}}{{end}}' ./cmd/weir | sort -u > deps.txt

check-deps: ## Fail when deps.txt does not match the modules the binary links.
	@$(GO) list -deps -f '{{with .Module}}{{.Path}} {{.Version}}{{end}}' ./cmd/weir | sort -u | diff deps.txt - || { echo "deps.txt is stale: run 'make deps' and commit"; exit 1; }

$(GOLANGCI_LINT):
	mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(TOOLS_DIR)/golangci-lint $@

lint: $(GOLANGCI_LINT) ## Run golangci-lint.
	$(GOLANGCI_LINT) run --timeout 15m ./...

vet:
	$(GO) vet ./...

test: envtest check-crds check-deps lint ## Run every test on the real control plane.
	$(GO) test -timeout $(TEST_TIMEOUT) -p 2 ./...

test-faults: envtest ## Run the fault and attack suite (faults/): hostile input, outages, crashes, contention.
	$(GO) test -tags faults -timeout 40m -v ./faults/

unit: ## Run the tests, skipping the generated-file and lint checks.
	$(GO) test -timeout $(TEST_TIMEOUT) ./...

FUZZTIME ?= 10s

# fuzz runs every fuzz target for FUZZTIME, one after another (go test fuzzes one target per
# invocation). Targets in a package whose TestMain starts a control plane (testenv.Main or
# testenv.Run) are left out: every fuzz worker would start its own. Their seeds and committed
# corpora run as unit tests in `make test`, like every other target's. A failure counts only
# with a failing input written to testdata/fuzz.
fuzz: ## Fuzz every parser of untrusted input for FUZZTIME each.
	@set -euo pipefail; \
	skip=" $$(grep -rlE --include='*_test.go' --exclude-dir=tools 'testenv\.(Main|Run)\(' . | xargs -r -n1 dirname | sort -u | tr '\n' ' ') "; \
	grep -rE --include='*_test.go' --exclude-dir=tools '^func Fuzz[A-Za-z0-9_]*\(' . | \
	sed -E 's|^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*|\1 \2|' | sort | \
	while read -r pkg target; do \
		if [[ "$$skip" == *" $$pkg "* ]]; then echo "skip $$pkg $$target: its TestMain starts a control plane"; continue; fi; \
		echo "fuzz $$pkg $$target for $(FUZZTIME)"; \
		before=$$(ls $$pkg/testdata/fuzz/$$target 2>/dev/null | wc -l || true); \
		if ! $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg 2>&1 | tee /tmp/weir-fuzz.log; then \
			if [[ $$(ls $$pkg/testdata/fuzz/$$target 2>/dev/null | wc -l || true) == "$$before" ]] && grep -q 'context deadline exceeded' /tmp/weir-fuzz.log; then \
				echo "$$target: 'context deadline exceeded' without a failing input is Go's fuzzing race (go.dev/issue/75804), not a finding"; \
			else exit 1; fi; \
		fi; \
	done

demo: envtest build ## Run weir end to end on a local control plane and Git repository.
	$(GO) run ./internal/demo

bench: envtest build ## Run the benchmark harness (not part of make test).
	$(GO) run ./bench $(BENCH_ARGS)
	$(MAKE) bench-plan bench-ui

bench-ui: envtest ## Benchmark the web UI at 1,000 Kustomizations and 1,000 HelmReleases (needs chromium).
	$(GO) test -run '^$$' -bench BenchmarkUIScale -benchtime 3x ./internal/ui

bench-plan: ## Benchmark weir plan on a home-ops shaped tree (no cluster needed).
	$(GO) test -run '^$$' -bench BenchmarkPlan -benchtime 5x -benchmem ./internal/plan

image: ## Build the container image (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t ghcr.io/weirgitops/weir:$(VERSION) .

clean:
	rm -rf bin
