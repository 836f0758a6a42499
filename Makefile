# The two commands a user needs:
#   make run    bring the local lab up, run the whole job on it, then use the service
#   make test   every test: lint, unit, Molecule, end to end on a lab of its own
# Both set up what they need first (packages, dockerd, .venv, base images).
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
LAB_NAME ?= fragments-lab
LAB_INVENTORY := -i inventory/lab -i .lab/$(LAB_NAME)/inventory
# make run puts an Application Load Balancer (HTTPS, the lab CA's certificate) in front of
# the hosts, and ends with a round trip through it; LOAD_BALANCER=false: each host on its own.
LOAD_BALANCER ?= true
RUN_VARS := -e ec2_hosts_load_balancer=$(LOAD_BALANCER)

.PHONY: run test setup lab-up lab-down lint unit molecule e2e

run: setup lab-up
	ansible-playbook $(LAB_INVENTORY) $(RUN_VARS) playbooks/site.yml
	ansible-playbook $(LAB_INVENTORY) $(RUN_VARS) playbooks/use.yml

test: setup
	scripts/test.sh

setup:
	@scripts/setup.sh

lab-up: setup
	ansible-playbook playbooks/lab_up.yml -e lab_name=$(LAB_NAME)

lab-down: setup
	ansible-playbook playbooks/lab_down.yml -e lab_name=$(LAB_NAME)

lint: setup
	scripts/test.sh lint

unit: setup
	scripts/test.sh unit

molecule: setup
	scripts/test.sh molecule

# make e2e K=expr: only the end-to-end tests whose names match expr (pytest -k), on a lab
# kept up between runs, so that a developer's second run starts warm.
e2e: setup
	E2E_SELECT="$(K)" scripts/test.sh e2e
