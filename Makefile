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

.PHONY: all build run test go-test race-test policy-test policy-ci lint vulncheck vulndb deploy-check fmt bench bench-go fuzz soak package bundle clean help

all: build

help:
	@echo "make run          build, then run a local API Gateway with a dev issuer and the policy, reloaded on change"
	@echo "make test         every test: Go tests (and again under the race detector), opa test with coverage, format and lint checks"
	@echo "make build        bin/authorizer and bin/authz for this machine"
	@echo "make package      dist/bootstrap and dist/authorizer.zip for Lambda (ARCH=arm64|amd64)"
	@echo "make bundle       DIR=rego/examples/NAME [SIGNING_KEY=key.pem KEY_ID=id] [REVISION=r]: one signed bundle.tar.gz of the folder and rego/lib"
	@echo "make lambda-local the packaged function under AWS's Lambda Runtime Interface Emulator on 127.0.0.1:9000, with a dev issuer"
	@echo "make policy-test  opa fmt, opa check --strict --schema, opa test --coverage: default policy and examples"
	@echo "make policy-ci    the same, as the policy CI workflow runs it"
	@echo "make lint         gofmt, go vet, staticcheck"
	@echo "make deploy-check the Terraform and SAM templates: terraform fmt, their Go checks against the binary, and terraform validate/test and cfn-lint where installed"
	@echo "make vulncheck    govulncheck, offline, against the database of tools/vulndb/go.mod"
	@echo "make bench        the comparison with a hand-written authorizer and OPA's other deployments, cold start, size, memory"
	@echo "make bench-go     the packages' Go benchmarks"
	@echo "make fuzz         each fuzz target for FUZZTIME (default 1m); make test runs them on their seeds"
	@echo "make soak         a million decisions in process and through the Lambda binary: heap and RSS after a warm-up and at the end (about 35 min)"

# The commit the sources come from, when they do not differ from it: the
# embedded default bundle's revision, and make bundle's. With local changes no
# commit names them, and the bundle's digest of its policy and data stands in.
REVISION ?= $(shell git diff --quiet HEAD -- 2>/dev/null && git rev-parse --short HEAD 2>/dev/null)
LDREV    := -X github.com/apigw-authz/authz/internal/policy.EmbeddedRevision=$(REVISION)

build:
	$(GO) build -ldflags '$(LDREV)' -o $(BIN)/authorizer ./cmd/authorizer
	$(GO) build -ldflags '$(LDREV)' -o $(BIN)/authz ./cmd/authz

# The local loop: a local API Gateway on 127.0.0.1:8080 in front of the core, a
# real OIDC issuer on loopback, and the policy of rego/ and bundles/default/,
# reloaded when they change. It prints three requests to paste.
run: build
	$(BIN)/authz serve --dev-issuer --watch

test: lint vulncheck policy-test deploy-check go-test race-test

go-test:
	$(GO) test -count=1 ./...

# The race detector over the packages whose code runs concurrently: the
# verifier and its caches, the authorizer, bundle delivery, the decision log,
# the work a request finds due, the metrics' counters and the policy engine.
RACE_PACKAGES = ./internal/identity ./internal/authorizer ./internal/delivery ./internal/decisionlog \
	./internal/invocation ./internal/metrics ./internal/policy
race-test:
	$(GO) test -race -count=1 $(RACE_PACKAGES)

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
	@test -z "$$(gofmt -l cmd internal test rego bundles deploy bench)" || { echo "gofmt would change:"; gofmt -l cmd internal test rego bundles deploy bench; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@# The faults the end-to-end tests compile in (cmd/authorizer/faults.go).
	$(GO) vet -tags authz_faults ./cmd/authorizer
	$(GO) tool staticcheck -tags authz_faults ./cmd/authorizer

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
	gofmt -w cmd internal test rego bundles deploy bench
	$(OPA) fmt -w rego
	@if command -v terraform >/dev/null; then TF_CLI_CONFIG_FILE=/dev/null terraform fmt -recursive deploy/terraform; fi

# The deployment templates under deploy/, with no AWS account:
# - terraform fmt -check, when a terraform binary is on PATH;
# - terraform validate and terraform test (AWS mocked) of every module and
#   example, when the AWS provider is installed in TF_PLUGIN_DIR as well
#   (deploy/terraform/check.sh; nothing is downloaded);
# - cfn-lint on the SAM template, when cfn-lint is on PATH;
# - always, the Go checks of deploy/: the templates against the binary (its
#   environment variables in internal/config, what make package builds, the
#   metrics it publishes), least-privilege IAM, and authorizer settings that
#   fit the token sources.
deploy-check:
	@if command -v terraform >/dev/null; then \
		TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive -diff deploy/terraform || { echo "terraform fmt would change deploy/terraform: make fmt"; exit 1; }; \
	else echo "make deploy-check: no terraform on PATH, so terraform fmt is not run"; fi
	@bash deploy/terraform/check.sh
	@if command -v cfn-lint >/dev/null; then cfn-lint deploy/sam/template.yaml && echo "ok   deploy/sam/template.yaml: cfn-lint"; \
	else echo "make deploy-check: no cfn-lint on PATH, so the SAM template is not linted"; fi
	$(GO) test -count=1 ./deploy

# The comparison of issue 12, in one interleaved run each: the project against
# a hand-written authorizer (bench/floor), OPA as a server on loopback and
# OPA compiled per request, on a small and a realistic event; the policy
# alone at 10, 1,000 and 10,000 bindings; then the real bootstrap's cold
# start, package size and memory after BENCH_DECISIONS decisions under a fake
# Lambda Runtime API (bench/process). Tables on stdout; about 5 minutes.
BENCH_DECISIONS ?= 100000
bench:
	$(GO) run ./bench/compare
	$(GO) run ./bench/process -decisions $(BENCH_DECISIONS)

# The fuzz targets, one after the other, each for FUZZTIME. make test runs
# them on their seeds and on what earlier runs found (testdata/fuzz).
FUZZTIME ?= 1m
FUZZ_TARGETS = ./internal/authorizer:FuzzHandler ./internal/identity:FuzzVerify ./internal/identity:FuzzParseKeySet \
	./internal/gateway:FuzzRESTEvent ./internal/gateway:FuzzHTTPEvent ./internal/gateway:FuzzWebSocketEvent \
	./internal/gateway:FuzzTokenEvent ./internal/gateway:FuzzEventBytes ./internal/gateway:FuzzWildcardMatch \
	./internal/gateway:FuzzAmbiguousPathDeny ./internal/policy:FuzzRegoVsIAM
# Minimising a new input of a target with many arguments can take the
# default minute, in which nothing new is tried.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "$$name ($$pkg), $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg || exit 1; \
	done

# The soak: a million decisions through one authorizer from 4×GOMAXPROCS
# goroutines (heap after a warm-up and at the end, goroutines; every answer
# held to the one given alone), then through the real bootstrap one at a time
# under a fake Runtime API (VmRSS after a warm-up and at the end, peak RSS).
# Figures are reported, not asserted. About 2 + 32 minutes on 2 cores.
SOAK_DECISIONS ?= 1000000
soak:
	$(GO) test -count=1 -v -timeout 30m -run '^TestLoad$$' ./internal/authorizer -load.decisions $(SOAK_DECISIONS)
	$(GO) run ./bench/process -rss -decisions $(SOAK_DECISIONS)

# The packages' own Go benchmarks (the handler, the decision log, the policy).
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/authorizer ./internal/policy ./internal/delivery ./bench

# One bundle from a policy folder and the lib, as the authorizer reads them:
# roots, the revision (the git commit by default), and a signature with
# SIGNING_KEY under KEY_ID ("default" verifies with a single
# AUTHZ_BUNDLE_PUBLIC_KEY). For the default bundle:
# make bundle DIR="rego bundles/default" LIB=
LIB    ?= rego/lib
OUT    ?= bundle.tar.gz
KEY_ID ?= default
bundle: build
	@test -n "$(DIR)" || { echo "usage: make bundle DIR=rego/examples/NAME [SIGNING_KEY=key.pem] [KEY_ID=default] [REVISION=...] [OUT=bundle.tar.gz]"; exit 2; }
	$(BIN)/authz bundle $(if $(LIB),--lib $(LIB)) -o $(OUT) $(if $(SIGNING_KEY),--signing-key $(SIGNING_KEY) --key-id $(KEY_ID)) $(if $(REVISION),--revision $(REVISION)) $(DIR)

# The Lambda artefact: a static linux binary named bootstrap for provided.al2023.
# PACKAGE_FILES adds files to the package, beside bootstrap (in /var/task):
# a key-set snapshot from authz jwks snapshot, a signed bundle, an OPA
# configuration. make package PACKAGE_FILES="jwks-snapshot.json bundle.tar.gz"
PACKAGE_FILES ?=
package:
	mkdir -p $(DIST)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w $(LDREV)' -o $(DIST)/bootstrap ./cmd/authorizer
	rm -f $(DIST)/authorizer.zip
	$(if $(PACKAGE_FILES),cp $(PACKAGE_FILES) $(DIST)/)
	cd $(DIST) && files="bootstrap $(notdir $(PACKAGE_FILES))" && \
		if command -v zip >/dev/null; then zip -q authorizer.zip $$files; else python3 -m zipfile -c authorizer.zip $$files; fi
	@ls -l $(DIST)/bootstrap $(DIST)/authorizer.zip

# The real function on this machine: the package built for it (into
# dist/local, so that dist/bootstrap stays the one to deploy), run by AWS's
# Lambda Runtime Interface Emulator (go.mod's tool) on 127.0.0.1 only, trusting
# the dev issuer of authz serve --dev-issuer. The emulator passes its whole
# environment to the function, so other AUTHZ_* variables of the shell apply.
# Linux only, as the emulator.
LAMBDA_PORT  ?= 9000
RUNTIME_PORT ?= 9001
DEV_ISSUER   ?= 127.0.0.1:8081
LOCAL        := $(DIST)/local
INVOKE_URL    = http://127.0.0.1:$(LAMBDA_PORT)/2015-03-31/functions/function/invocations

define LAMBDA_LOCAL_HELP

The packaged bootstrap runs under AWS's Lambda Runtime Interface Emulator on 127.0.0.1:$(LAMBDA_PORT),
trusting the dev issuer on $(DEV_ISSUER) (log: $(LOCAL)/dev-issuer.log). In another terminal, here:

  TOKEN=$$(bin/authz token --issuer http://$(DEV_ISSUER) --sub alice --groups admins)
  INVOKE=$(INVOKE_URL)

  sed "s/__TOKEN__/$$TOKEN/g" testdata/events/rest-request.json     | curl -sS -w '\n' --data-binary @- $$INVOKE  # REST REQUEST  DELETE /orders/42
  sed "s/__TOKEN__/$$TOKEN/g" testdata/events/rest-token.json       | curl -sS -w '\n' --data-binary @- $$INVOKE  # REST TOKEN    GET /orders/42
  sed "s/__TOKEN__/$$TOKEN/g" testdata/events/http-v1.json          | curl -sS -w '\n' --data-binary @- $$INVOKE  # HTTP API 1.0  GET /orders
  sed "s/__TOKEN__/$$TOKEN/g" testdata/events/http-v2.json          | curl -sS -w '\n' --data-binary @- $$INVOKE  # HTTP API 2.0  DELETE /orders/42
  sed "s/__TOKEN__/$$TOKEN/g" testdata/events/websocket-connect.json | curl -sS -w '\n' --data-binary @- $$INVOKE  # WebSocket     $$connect

alice (admins) is allowed everywhere: an IAM policy that allows the method ARN (HTTP 2.0: isAuthorized true).
With --sub bob --groups orders-readers, both DELETEs are denied: the policy denies the method ARN (403).
With TOKEN=expired or any other bad token: {"errorMessage":"Unauthorized",...}, API Gateway's 401.
More tokens: bin/authz token --issuer http://$(DEV_ISSUER) -h (--profile okta|entra|adfs|cognito, --claim name=json).
The decision log and the emulator's REPORT lines follow here; Ctrl-C stops the function and the dev issuer.

endef
export LAMBDA_LOCAL_HELP

.PHONY: lambda-local
lambda-local: build
	@test "$$($(GO) env GOOS)" = linux || { echo "make lambda-local: AWS's Lambda Runtime Interface Emulator runs on Linux only"; exit 1; }
	@command -v curl >/dev/null || { echo "make lambda-local: needs curl, to configure the function and to invoke it"; exit 1; }
	@$(MAKE) --no-print-directory package ARCH="$$($(GO) env GOARCH)" DIST=$(LOCAL)
	$(GO) build -o $(BIN)/aws-lambda-rie github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
	@if curl -s -o /dev/null http://$(DEV_ISSUER)/; then \
		echo "make lambda-local: something already listens on $(DEV_ISSUER) (make run's dev issuer?): stop it, or pass DEV_ISSUER=127.0.0.1:PORT"; exit 1; fi
	@$(BIN)/authz serve --dev-issuer --dev-issuer-addr $(DEV_ISSUER) --addr 127.0.0.1:0 --cache-ttl 0 > $(LOCAL)/dev-issuer.log 2>&1 & dev=$$!; \
	trap 'kill $$dev 2>/dev/null; wait $$dev' EXIT; trap 'exit 130' INT TERM; \
	for i in $$(seq 300); do \
		issuers=$$(curl -fsS http://$(DEV_ISSUER)/issuers 2>/dev/null) && break; \
		kill -0 $$dev 2>/dev/null || break; sleep 0.1; \
	done; \
	test -n "$$issuers" || { echo "make lambda-local: the dev issuer did not start:"; cat $(LOCAL)/dev-issuer.log; exit 1; }; \
	printf '%s\n' "$$LAMBDA_LOCAL_HELP"; \
	AUTHZ_ISSUERS="$$issuers" AWS_LAMBDA_FUNCTION_TIMEOUT=3 AWS_LAMBDA_FUNCTION_NAME=authorizer \
		$(BIN)/aws-lambda-rie --runtime-interface-emulator-address 127.0.0.1:$(LAMBDA_PORT) \
		--runtime-api-address 127.0.0.1:$(RUNTIME_PORT) $(LOCAL)/bootstrap

clean:
	rm -rf $(BIN) $(DIST)
