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

.PHONY: run test setup lab-up lab-down lint unit molecule e2e

run: setup lab-up
	ansible-playbook $(LAB_INVENTORY) playbooks/site.yml
	ansible-playbook $(LAB_INVENTORY) playbooks/use.yml

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

e2e: setup
	scripts/test.sh e2e
