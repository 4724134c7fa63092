# observability/: rules, monitors, Alertmanager routing, Grafana dashboard and their tests.
# `make test-observability` installs promtool, amtool, prometheus and alertmanager from Debian (promtool 2.42,
# amtool 0.25) when they are missing, then runs every observability test with the tools required.
TEST_TARGETS += test-observability
OBSERVABILITY_TOOLS_BIN := promtool amtool prometheus prometheus-alertmanager

.PHONY: test-observability observability-tools observability-dashboard

# Idempotent: nothing happens when the tools are on PATH. Debian's maintainer scripts would start
# the prometheus and alertmanager services; a policy-rc.d that denies starts (unless one is
# already there) keeps them from starting, and is removed again afterwards.
observability-tools:
	@missing=0; for b in $(OBSERVABILITY_TOOLS_BIN); do command -v $$b >/dev/null || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "observability-tools: need root to apt-get install prometheus prometheus-alertmanager"; exit 1; fi; \
	  policy=/usr/sbin/policy-rc.d; own=0; \
	  if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' > $$policy && chmod 755 $$policy && own=1; fi; \
	  trap '[ $$own = 1 ] && rm -f '$$policy EXIT; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus prometheus-alertmanager; \
	fi; \
	for b in $(OBSERVABILITY_TOOLS_BIN); do command -v $$b >/dev/null || { echo "observability-tools: $$b still missing"; exit 1; }; done

test-observability: observability-tools
	OBSERVABILITY_TOOLS=1 go test -race -count=1 ./observability/...

# Regenerates observability/dashboard/fraud-detector.json and configmap.yaml.
observability-dashboard:
	go generate ./observability/dashboard
