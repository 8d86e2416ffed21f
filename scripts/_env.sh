# Sourced by the other scripts: create or reuse .venv (Python >= 3.12) with this package and its test extras.
set -euo pipefail
find_python() {
    for candidate in python3.12 python3.13 python3.14 python3 python; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then
            echo "$candidate"; return 0
        fi
    done
    for candidate in "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3; do
        [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
    echo "error: Python >= 3.12 not found (install it, e.g. 'pyenv install 3.12')" >&2
    return 1
}
if [ ! -x .venv/bin/python ]; then
    "$(find_python)" -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ] ||
    [ tests/codec_package/pyproject.toml -nt .venv/.installed ]; then
    # the package with its test extras, and a test-only codec package registered through entry points
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]" ./tests/codec_package
    touch .venv/.installed
fi
