# Shoal — common tasks. `make test` is what CI runs.
CARGO ?= cargo
PORT ?= 6379

.PHONY: all build release run cluster cluster-stop test test-cluster test-unit deps fmt lint bench suite clean \
	docker docker-cluster docker-cluster-down

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

run: release
	./target/release/shoal-server --port $(PORT)

# Local 6-node cluster on 127.0.0.1:30001-30006 (all masters until replicas land).
cluster: release
	./scripts/create-cluster start
	./scripts/create-cluster create

cluster-stop:
	./scripts/create-cluster stop

# The `shoal` image, FROM scratch: shoal-server + redis-cli and their libraries.
DOCKER ?= docker
COMPOSE ?= docker-compose -p shoal -f docker/docker-compose.yml
SHOAL_REPLICAS ?= 1

docker: release deps
	./docker/stage-rootfs.sh target/release/shoal-server target/docker
	$(DOCKER) build -t shoal target/docker

# 6-node cluster on the Docker network shoal-net (docker/docker-compose.yml).
docker-cluster: docker
	SHOAL_REPLICAS=$(SHOAL_REPLICAS) $(COMPOSE) up -d
	@code=$$($(DOCKER) wait shoal-cluster-init); $(DOCKER) logs shoal-cluster-init; \
	  if [ "$$code" != 0 ]; then echo "cluster-init failed (exit $$code)"; exit 1; fi
	@echo "Connect with: docker run --rm -it --network shoal-net shoal redis-cli -c -h 172.28.1.11"
	@echo "          or: docker exec -it shoal-1 redis-cli -c"

docker-cluster-down:
	$(COMPOSE) down --volumes --remove-orphans

# Install the reference redis-server/redis-cli when missing (differential tests need it).
deps:
	@command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 || \
	  { (apt-get update -qq && apt-get install -y -qq redis-server redis-tools) >/dev/null 2>&1 || \
	    echo "warning: could not install redis-server/redis-tools"; }

# Everything: formatting, lints, unit + black-box + differential tests, and
# the multi-process cluster tests of the cluster-tests/ workspace crate.
test: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace --all-targets 2>&1 | tee target/test-output.txt
	@./scripts/test-summary.sh target/test-output.txt

# Only the cluster tests (builds shoal-server first: they spawn it).
test-cluster: deps
	$(CARGO) build --bin shoal-server
	$(CARGO) test -p cluster-tests

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: release deps
	./scripts/bench.sh

# Run Redis's own Tcl suite against shoal-server (needs REDIS_MIRROR, see README).
suite: release
	../shared/scripts/redis-suite.sh target/release/shoal-server /tmp/shoal-suite

clean:
	$(CARGO) clean
