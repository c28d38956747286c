# homecheck: `make run` measures this machine, `make test` runs the test suite.
# Both create .venv and install the project; as root on Debian they also apt-get the system
# packages they need (PortAudio for the microphone; the test tools for the tests).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# What `homecheck run` needs from the OS.
RUN_DEBS  := libportaudio2
# What the tests need on top: the link lab (iproute2, iperf3, iptables, ethtool), the test CA of
# the local speedtest.net stand-in (openssl), the virtual microphone (pulseaudio, sox, espeak-ng)
# a real browser for the HTML report, and PostgreSQL for the employer hub's store (the tests start
# their own server with initdb/pg_ctl in a temporary folder).
TEST_DEBS := $(RUN_DEBS) iproute2 iperf3 iptables ethtool openssl pulseaudio pulseaudio-utils \
             libasound2-plugins sox espeak-ng chromium chromium-driver postgresql

.PHONY: run test lint install run-debs test-debs clean

run: install run-debs
	@# 1 (not ready) and 2 (incomplete) are answers, not errors of `make`.
	@$(BIN)/homecheck run; code=$$?; echo "homecheck exit code: $$code"; [ $$code -le 2 ]

# The measuring tests alone first (a failure must repeat: --reruns 1), then the rest on 3
# workers (tests/conftest.py says why).
test: install test-debs
	$(BIN)/python -m pytest -q -m serial --reruns 1
	$(BIN)/python -m pytest -q -m "not serial" -n 3 --dist loadfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

run-debs:
	@scripts/apt-ensure $(RUN_DEBS)

test-debs:
	@scripts/apt-ensure $(TEST_DEBS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
