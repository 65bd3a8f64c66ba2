# One venv for everything; every target installs what it needs from scratch.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST

.PHONY: venv test lint demo soak bench firmware debian clean gpu-pack

$(STAMP): requirements.txt requirements-dev.txt setup.py
	$(PY) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV)  # new, or left half-made
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check waste_sorting test launch setup.py

# The firmware's toolchain and simulator (Debian packages): installed when root (CI), else the firmware
# tests skip and say what to install.
DEB_PACKAGES := gcc-avr avr-libc simavr libsimavr-dev libelf-dev
debian:
	@if command -v avr-gcc >/dev/null && [ -f /usr/include/simavr/sim_avr.h ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(DEB_PACKAGES) (the firmware and its simulator)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q $(DEB_PACKAGES) >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(DEB_PACKAGES) >/dev/null 2>&1; } || \
		echo "apt-get failed: the firmware tests will skip"; \
	else echo "the firmware tests will skip: install $(DEB_PACKAGES)"; fi

test: $(STAMP) debian
	$(PY) -m ruff check waste_sorting test launch setup.py
	$(PY) -m pytest -q test

# A ROS domain of its own (unless ROS_DOMAIN_ID is set), so two demos on one host never mix.
demo: $(STAMP)
	@domain=$${ROS_DOMAIN_ID:-$$(( 101 + $$$$ % 100 ))}; \
	echo "demo cell on ROS_DOMAIN_ID=$$domain; watch it from another shell with: ROS_DOMAIN_ID=$$domain $(PY) -m waste_sorting.cli status"; \
	ROS_DOMAIN_ID=$$domain $(PY) -m waste_sorting.cli run --sim --duration 60 --belt-speed 2.0

soak: $(STAMP)
	$(PY) -m waste_sorting.cli soak --duration 180 --items-per-second 5

bench: $(STAMP)
	$(PY) -m waste_sorting.cli bench

# What `waste-sorting distill` needs on a GPU machine that sees only the files sent with it (doc/model.md):
# the training pack and the teacher's code as a wheel, in .gpu/ (ignored by git; carry it).
DATA ?= ../shared/data/trashnet
gpu-pack: $(STAMP)
	mkdir -p .gpu
	$(PY) -m waste_sorting.cli pack --data $(DATA) --out .gpu/trashnet.pt
	$(PY) -m pip download -q --no-deps efficientnet-lite-pytorch -d .gpu

# The reference valve controller (ATmega2560) and its simavr harness: needs gcc-avr, avr-libc, simavr,
# libsimavr-dev, libelf-dev (Debian). Prints the firmware's flash and RAM use.
firmware:
	$(MAKE) -C firmware/valve_controller

clean:
	rm -rf $(VENV) build install log .pytest_cache firmware/valve_controller/build
