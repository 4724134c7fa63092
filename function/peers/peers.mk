# make bench-peers (issue 15): the function beside the Python model servers users would pick
# instead, all on the built-in model.txt, driven by one Go client in alternating rounds. Not part
# of make test (it takes minutes). Each peer's venv is pinned by its requirements file and cached
# under $(CACHE), keyed by the file's hash.
.PHONY: bench-peers
PEERS_DIR := function/peers
PEERS := fastapi mlserver mlflow
peer_venv = $(CACHE)/venv-peers-$(1)-$(shell sha256sum $(PEERS_DIR)/requirements-$(1).txt | cut -c1-16)
PEER_VENVS := $(foreach p,$(PEERS),$(call peer_venv,$(p)))

$(CACHE)/venv-peers-%/.complete:
	req=$(PEERS_DIR)/requirements-$$(echo $* | sed 's/-[0-9a-f]*$$//').txt; \
	rm -rf $(@D) && python3 -m venv $(@D) && \
	$(@D)/bin/python -m pip install --quiet --disable-pip-version-check --no-input -r $$req && touch $@

# BENCH_PEERS_FLAGS: e.g. -rounds 5 -round 5s (see go run ./function/peers/cmd/bench-peers -h).
BENCH_PEERS_FLAGS ?=
bench-peers: $(foreach v,$(PEER_VENVS),$(v)/.complete)
	bin=$$(mktemp -d)/fraud-detector; trap 'rm -rf $$(dirname $$bin)' EXIT; \
	CGO_ENABLED=0 go build -o $$bin ./function/cmd/fraud-detector && \
	go run ./function/peers/cmd/bench-peers -function $$bin -source $(PEERS_DIR) \
		-fastapi-venv $(call peer_venv,fastapi) -mlserver-venv $(call peer_venv,mlserver) -mlflow-venv $(call peer_venv,mlflow) \
		$(BENCH_PEERS_FLAGS)
