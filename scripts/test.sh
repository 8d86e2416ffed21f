#!/usr/bin/env bash
# Run every test: creates or reuses .venv and installs what the tests need, checks the code with ruff (the
# version pinned in the test extras of pyproject.toml), then runs pytest, passing it this script's arguments.
# Exit status: pytest's when pytest fails, else 1 when ruff found a problem, else 0.
cd "$(dirname "$0")/.."
source scripts/_env.sh

# Lint and format of the Python sources, and format of the Python code blocks in the Markdown files (README.md,
# docs/, benchmarks/README.md). Those blocks are not linted: ruff check does not read Markdown (it answers "No
# Python files found"), and most blocks are fragments that use names defined in an earlier block. The examples of
# docs/extending.md run as tests (tests/test_docs.py).
lint_failed=0
.venv/bin/ruff check src tests benchmarks scripts || lint_failed=1
.venv/bin/ruff format --check src tests benchmarks scripts README.md docs || lint_failed=1
if [ "$lint_failed" -ne 0 ]; then
    echo "ruff reported problems (above); the tests run anyway, and this command will fail" >&2
fi

status=0
.venv/bin/python -m pytest -n 2 "$@" || status=$?
if [ "$lint_failed" -ne 0 ]; then
    echo "FAILED: ruff check / ruff format --check reported problems (see the top of this output;" \
        "'.venv/bin/ruff check --fix' and '.venv/bin/ruff format' fix most)" >&2
    [ "$status" -ne 0 ] || status=1
fi
exit "$status"
