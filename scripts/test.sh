#!/usr/bin/env bash
# Run every test: creates or reuses .venv and installs what the tests need.
cd "$(dirname "$0")/.."
source scripts/_env.sh
exec .venv/bin/python -m pytest -n 2 "$@"
