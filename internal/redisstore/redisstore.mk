# Redis feature store (internal/redisstore): `make test-redis` installs redis-server from Debian if
# it is missing and runs the store's tests, which start throwaway redis-servers on loopback ports
# (no persistence unless a test asks for it, in a temporary directory; killed when the test ends,
# or with the test binary). `make bench-redis` prints throughput and latency, Redis vs memory.
REDIS_SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Transactions per benchmark; the paced ones take N/1500 seconds.
BENCH_REDIS_N ?= 15000

TEST_TARGETS += test-redis
.PHONY: test-redis bench-redis redis-installed

redis-installed:
	@command -v redis-server >/dev/null || ($(REDIS_SUDO) apt-get update && $(REDIS_SUDO) apt-get install -y --no-install-recommends redis-server)

test-redis: redis-installed
	REDIS_SERVER=$$(command -v redis-server) go test -race -count=1 ./internal/redisstore/

bench-redis: redis-installed
	REDIS_SERVER=$$(command -v redis-server) go test -count=1 -run '^$$' -bench . -benchtime $(BENCH_REDIS_N)x ./internal/redisstore/
