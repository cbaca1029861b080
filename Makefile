# The two commands a new user needs: `make run` and `make test`.
# Every tool comes from go.mod (go tool opa, go tool staticcheck, go tool
# govulncheck) or tools/vulndb/go.mod: nothing to install.

# The patched toolchain: the go command fetches it from the Go module proxy once.
# A machine starts on its own Go and ignores go.mod's toolchain line unless told.
export GOTOOLCHAIN ?= go1.27.3

GO      ?= go
OPA     := $(GO) tool opa
ARCH    ?= arm64
BIN     := bin
DIST    := dist
REGO    := rego bundles/default --ignore examples
SCHEMA  := bundles/schemas

.PHONY: all build run test go-test policy-test policy-ci lint vulncheck vulndb fmt bench package clean help

all: build

help:
	@echo "make run          build, then run a local API Gateway with a dev issuer and the policy, reloaded on change"
	@echo "make test         every test: Go tests, opa test with coverage, format and lint checks"
	@echo "make build        bin/authorizer and bin/authz for this machine"
	@echo "make package      dist/bootstrap and dist/authorizer.zip for Lambda (ARCH=arm64|amd64)"
	@echo "make policy-test  opa fmt, opa check --strict --schema, opa test --coverage: default policy and examples"
	@echo "make policy-ci    the same, as the policy CI workflow runs it"
	@echo "make lint         gofmt, go vet, staticcheck"
	@echo "make vulncheck    govulncheck, offline, against the database of tools/vulndb/go.mod"
	@echo "make bench        the handler benchmark (warm decision latency)"

build:
	$(GO) build -o $(BIN)/authorizer ./cmd/authorizer
	$(GO) build -o $(BIN)/authz ./cmd/authz

# The local loop: a local API Gateway on 127.0.0.1:8080 in front of the core, a
# real OIDC issuer on loopback, and the policy of rego/ and bundles/default/,
# reloaded when they change. It prints three requests to paste.
run: build
	$(BIN)/authz serve --dev-issuer --watch

test: lint vulncheck policy-test go-test

go-test:
	$(GO) test -count=1 ./...

# Rego: format, strict compile with the input schema (a misspelt input field is
# an error), and tests with coverage, for the default policy and each example.
policy-test:
	@test -z "$$($(OPA) fmt -l rego)" || { echo "opa fmt would change:"; $(OPA) fmt -l rego; exit 1; }
	$(OPA) check --strict --schema $(SCHEMA) $(REGO)
	$(OPA) test $(REGO) --coverage --threshold 90 --format json > /dev/null || { $(OPA) test $(REGO) -v; exit 1; }
	$(OPA) test $(REGO)
	@for dir in rego/examples/*/; do \
		echo "$$dir"; \
		$(OPA) check --strict --schema $(SCHEMA) $$dir rego/lib && \
		$(OPA) test $$dir rego/lib --coverage --threshold 90 --format json > /dev/null && \
		$(OPA) test $$dir rego/lib || exit 1; \
	done

# What a policy repository's CI runs (.github/workflows/policy.yml).
policy-ci: policy-test

lint:
	@test -z "$$(gofmt -l cmd internal test rego bundles)" || { echo "gofmt would change:"; gofmt -l cmd internal test rego bundles; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# govulncheck, offline. The database is built once per golang.org/x/vulndb
# version (pinned in tools/vulndb/go.mod) from the module's OSV entries, into
# VULNDB, outside the repository. Before it is trusted, it must know that
# go1.26.8's standard library is vulnerable: an empty or broken database would
# otherwise pass every check. Any vulnerability reachable from our code fails.
VULNDB_VERSION = $(shell cd tools/vulndb && $(GO) list -m -f '{{.Version}}' golang.org/x/vulndb)
VULNDB ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/authz-vulndb/$(VULNDB_VERSION)

vulndb:
	@test -n "$(VULNDB_VERSION)" || { echo "tools/vulndb/go.mod names no golang.org/x/vulndb version"; exit 1; }
	@if [ ! -f "$(VULNDB)/index/db.json" ]; then \
		echo "building the vulnerability database $(VULNDB)"; \
		rm -rf "$(VULNDB).tmp" && mkdir -p "$(dir $(VULNDB))" && \
		osv="$$(cd tools/vulndb && $(GO) mod download -json golang.org/x/vulndb | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')/data/osv" && \
		(cd tools/vulndb && $(GO) tool indexdb -vulns "$$osv" -out "$(VULNDB).tmp") && \
		mv "$(VULNDB).tmp" "$(VULNDB)"; \
	fi
	@known=$$($(GO) tool govulncheck -db file://$(VULNDB) -mode query -format json stdlib@go1.26.8 | grep -c '"osv"'); \
		test "$$known" -gt 0 || { echo "the database at $(VULNDB) knows no vulnerability of go1.26.8: it is broken"; exit 1; }

vulncheck: vulndb
	$(GO) tool govulncheck -db file://$(VULNDB) ./...

fmt:
	gofmt -w cmd internal test rego bundles
	$(OPA) fmt -w rego

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/authorizer

# The Lambda artefact: a static linux binary named bootstrap for provided.al2023.
package:
	mkdir -p $(DIST)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(DIST)/bootstrap ./cmd/authorizer
	rm -f $(DIST)/authorizer.zip
	cd $(DIST) && if command -v zip >/dev/null; then zip -q authorizer.zip bootstrap; else python3 -m zipfile -c authorizer.zip bootstrap; fi
	@ls -l $(DIST)/bootstrap $(DIST)/authorizer.zip

clean:
	rm -rf $(BIN) $(DIST)
