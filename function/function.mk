# The function (issue 3). Included by the root Makefile.
#   make test-function   resident-set check on the real binary (1 M events, 5,000 customers); part of make test
#   make bench-function  loopback throughput vs a bare net/http ceiling, and p99 at a steady 1,500 req/s
.PHONY: test-function bench-function
TEST_TARGETS += test-function

test-function:
	FRAUD_RSS_TEST=1 go test -count=1 -timeout 5m -run '^TestResidentSet$$' -v ./function/

BENCH_DURATION ?= 5s
bench-function:
	go test -run '^$$' -bench . -benchmem -benchtime 20000x ./internal/events ./function/
	FRAUD_BENCH=1 BENCH_DURATION=$(BENCH_DURATION) go test -count=1 -timeout 10m -run '^TestLoopback' -v ./function/

