# realtime_widget: `make test` and `make demo` set everything up from a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8888
SERVER_PORT ?= 8765

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv browser-deps sound-deps voice-deps lint typecheck pytest nodetest test test-min bench soak demo server clean

help:
	@echo "make test   - set up .venv and run ruff, mypy, pytest and node --test"
	@echo "make test-min - run pytest in .venv-min, on the lowest allowed version of each dependency"
	@echo "make demo   - set up .venv (the demo extra) and open examples.ipynb in JupyterLab on the local server"
	@echo "make bench  - run the benchmarks and print the table"
	@echo "make soak   - run the long fuzzing and soak profiles"
	@echo "make server - run the local realtime server alone (SERVER_PORT=$(SERVER_PORT))"

$(STAMP): pyproject.toml tools/floors.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$$($(PYTHON) tools/floors.py --extras)]"
	touch $(STAMP)

venv: $(STAMP)

# What the demo needs and no more (the demo extra: JupyterLab, the kernel, the local server's
# voice), in the same .venv; make test adds the rest.
DEMO_STAMP := $(VENV)/.installed-demo

$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $(DEMO_STAMP)

# Chromium (for the real-browser tests) and espeak-ng (the local server's voice, and speech
# for the fake microphone), from Debian's packages when missing.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v espeak-ng >/dev/null 2>&1; then \
		echo "installing chromium and espeak-ng from Debian's packages"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium espeak-ng >/dev/null; \
	fi

# The virtual sound card of the kernel audio tests (tests/support/virtual_sound.py): PortAudio,
# PulseAudio's null sinks and ALSA's pulse plugin, from Debian's packages when missing.
sound-deps:
	@if ! command -v pulseaudio >/dev/null 2>&1 || ! command -v pacat >/dev/null 2>&1 || \
		! ls /usr/lib/*/libportaudio.so.2 >/dev/null 2>&1 || \
		! ls /usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so >/dev/null 2>&1; then \
		echo "installing portaudio, pulseaudio and the alsa pulse plugin from Debian's packages"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libportaudio2 \
			pulseaudio pulseaudio-utils libasound2-plugins >/dev/null; \
	fi

# espeak-ng alone, for the demo's spoken answers: from Debian's packages where apt-get exists,
# else a note (brew install espeak-ng on macOS; the installer of its releases on Windows).
voice-deps:
	@if ! command -v espeak-ng >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null 2>&1; then \
			echo "installing espeak-ng from Debian's packages"; \
			$(SUDO) apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq espeak-ng >/dev/null; \
		else \
			echo "espeak-ng not found: the local server will answer in tones (brew install espeak-ng)"; \
		fi; \
	fi

lint: venv
	$(BIN)/ruff check realtime_widget tests benchmarks tools
	$(BIN)/ruff format --check realtime_widget tests benchmarks tools

typecheck: venv
	$(BIN)/mypy

pytest: venv browser-deps sound-deps
	$(BIN)/pytest -q

# TypeScript checks the frontend's JSDoc types (js/tests/types.test.mjs); it is installed
# here, pinned, into a gitignored folder. Offline, the check is skipped and says so.
TYPESCRIPT := 5.9.3
TSC := js/.tsc/node_modules/typescript/bin/tsc

$(TSC):
	-npm install --silent --no-save --no-audit --no-fund --prefix js/.tsc typescript@$(TYPESCRIPT)

nodetest: $(TSC)
	@if [ -d js/tests ]; then node --test js/tests/; fi

test: lint typecheck pytest nodetest

# The floors in pyproject.toml, proved: a venv of its own with every runtime dependency (the
# runtime extras' too) at the lowest version pyproject.toml allows, read by tools/floors.py,
# and the development tools at whatever versions fit; then the tests: every test but the
# real-browser ones, and of those the ones that load the widget's frontend into JupyterLab
# (anywidget's and ipywidgets' lowest versions in a real page). MIN_PYTEST adds options.
MIN_VENV := .venv-min
MIN_STAMP := $(MIN_VENV)/.installed
MIN_PYTEST ?=
MIN_BROWSER := renders_and_connects or shows_as_a_card or a_reply_is_played

$(MIN_STAMP): pyproject.toml tools/floors.py
	rm -rf $(MIN_VENV)
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PYTHON) tools/floors.py > $(MIN_VENV)/floors.txt
	$(MIN_VENV)/bin/python -m pip install --quiet -c $(MIN_VENV)/floors.txt \
		-e ".[$$($(PYTHON) tools/floors.py --extras)]"
	touch $(MIN_STAMP)

test-min: $(MIN_STAMP) browser-deps sound-deps
	@echo "lowest allowed versions:" $$(cat $(MIN_VENV)/floors.txt)
	$(MIN_VENV)/bin/pytest -q -m "not browser and not soak" $(MIN_PYTEST)
	$(MIN_VENV)/bin/pytest -q tests/browser/test_widget_browser.py -k "$(MIN_BROWSER)" $(MIN_PYTEST)

bench: venv
	$(BIN)/python -m benchmarks

demo: $(DEMO_STAMP) voice-deps
	@$(BIN)/python -m realtime_widget.demo --host $(HOST) --port $(PORT) --server-port $(SERVER_PORT) --notebook examples.ipynb

server: venv
	$(BIN)/python -m realtime_widget.server --port $(SERVER_PORT)

# the soak runs, the fuzzing state machines and every property test, at the nightly size
soak: venv
	HYPOTHESIS_PROFILE=nightly $(BIN)/pytest -q -m "soak or property" -o addopts="" --timeout=0

clean:
	rm -rf $(VENV) $(MIN_VENV) .mypy_cache .pytest_cache .ruff_cache build dist js/.tsc
