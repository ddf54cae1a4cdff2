# make demo: set everything up and run the main job end to end on the synthetic warehouse.
# make test: set everything up and run the whole test suite.
SHELL := /bin/bash
VENV := .venv
RUN := source scripts/env.sh && $(VENV)/bin/

.PHONY: setup demo test bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	@$(RUN)rackscan demo --out out/demo

test: setup
	@$(RUN)python -m pytest -p no:dash -q tests

bench: setup
	@$(RUN)rackscan bench render
	@$(RUN)rackscan bench codes
	@$(RUN)rackscan bench plan
	@$(RUN)rackscan bench reconcile
	@$(RUN)rackscan bench fusion
	@$(RUN)rackscan bench perception
	@$(RUN)rackscan bench datasets/scenarios/default.yaml
	@$(RUN)rackscan bench datasets/scenarios/indoor-drift.yaml
	@$(RUN)rackscan bench drift runs/bench/indoor-drift/flight
	@$(RUN)rackscan bench calibration runs/bench/default/flight runs/bench/indoor-drift/flight

clean:
	rm -rf out .pytest_cache
