# make demo: set up the core (no PyTorch) and run the main job end to end on the synthetic warehouse.
# make test: set up everything and run the whole test suite; then the core's tests in a core-only
#            environment (.venv-core, set up while the suite runs: scripts/test.sh), so a PyTorch
#            import that creeps into the core fails here.
SHELL := /bin/bash
VENV := .venv
RUN := source scripts/env.sh && $(VENV)/bin/

.PHONY: setup setup-core demo test bench clean

setup:
	@bash scripts/setup.sh full $(VENV)

setup-core:
	@bash scripts/setup.sh core $(VENV)

demo: setup-core
	@$(RUN)rackscan demo --out out/demo

test: setup
	@bash scripts/test.sh

bench: setup
	@$(RUN)rackscan bench render
	@$(RUN)rackscan bench codes
	@$(RUN)rackscan bench plan
	@$(RUN)rackscan bench reconcile
	@$(RUN)rackscan bench scale
	@$(RUN)rackscan bench fusion
	@$(RUN)rackscan bench perception
	@$(RUN)rackscan bench datasets/scenarios/default.yaml
	@$(RUN)rackscan bench datasets/scenarios/indoor-drift.yaml
	@$(RUN)rackscan bench drift runs/bench/indoor-drift/flight
	@$(RUN)rackscan bench calibration runs/bench/default/flight runs/bench/indoor-drift/flight
	@$(RUN)rackscan bench worlds datasets/families/tire-stores.yaml --worlds 40 --split test --one-face

clean:
	rm -rf out .pytest_cache
