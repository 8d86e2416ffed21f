#!/usr/bin/env bash
# Run neuroconv's and nwbinspector's own Zarr tests twice: with this package (zarr 3), and with hdmf-zarr
# 0.13.0 on zarr 2 (the last release those clients were written against), then compare. A measurement,
# not part of scripts/test.sh.
#
#   scripts/client_suites.sh [WORKDIR]      (default: ~/.cache/hdmf_zarr_tests/client_suites)
#
# Environment:
#   NEUROCONV_GIT   neuroconv's git repository: a URL or a local git directory
#                   (default https://github.com/catalystneuro/neuroconv)
#   NEUROCONV_REF   the tree whose tests are run (default v0.10.2, the installed release)
#   SUITES          which suites to run (default "neuroconv nwbinspector")
#   ENVS            which environments to run them in (default "ours ref013"; results of the other stay)
#   SUMMARY_ONLY=1  only summarize the results already in WORKDIR/results
#
# Both virtual environments are created on first use and reused. Results: WORKDIR/results/*.xml (JUnit),
# *.log (pytest output) and summary.md (counts, and every test that fails with ours but passes with 0.13).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/hdmf_zarr_tests/client_suites}"
NEUROCONV_GIT="${NEUROCONV_GIT:-https://github.com/catalystneuro/neuroconv}"
NEUROCONV_REF="${NEUROCONV_REF:-v0.10.2}"
SUITES="${SUITES:-neuroconv nwbinspector}"
ENVS="${ENVS:-ours ref013}"
CLIENTS=(neuroconv==0.10.2 nwbinspector==0.7.2)
NEUROCONV_TESTS=tests/test_minimal/test_tools/test_backend_and_dataset_configuration
NWBINSPECTOR_TESTS=(tests/test_inspector.py tests/test_utils.py tests/test_missing_hdmf_zarr.py
    tests/read_nwbfile_tests.py tests/unit_tests/test_nwbfile_metadata.py)
mkdir -p "$WORK/src" "$WORK/results"

summarize() {  # counts per suite and environment; tests whose outcome differs between the two
    "$WORK/ours/bin/python" - "$WORK/results" $SUITES <<'EOF' | tee "$WORK/results/summary.md"
"""Counts per suite and environment; tests that fail with ours and pass with hdmf-zarr 0.13."""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

results, suites = Path(sys.argv[1]), sys.argv[2:]


def outcomes(path):
    found = {}
    for case in ET.parse(path).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        state, detail = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                state = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                detail = (node.get("message") or "") + "\n" + (node.text or "")
                break
        found[name] = (state, detail)
    return found


print("| suite | environment | tests | passed | failed | error | skipped | zarr tests: passed / failed+error / skipped |")
print("|---|---|---|---|---|---|---|---|")
regressions, improvements = {}, {}
for suite in suites:
    runs = {}
    for env in ("ours", "ref013"):
        path = results / f"{suite}-{env}.xml"
        if not path.exists():
            print(f"| {suite} | {env} | (no results) | | | | | |")
            continue
        runs[env] = outcomes(path)
        states = [state for state, _ in runs[env].values()]
        zarr = [state for name, (state, _) in runs[env].items() if "zarr" in name.lower()]
        count = states.count
        zcount = zarr.count
        print(
            f"| {suite} | {env} | {len(states)} | {count('passed')} | {count('failed')} | {count('error')} | "
            f"{count('skipped')} | {zcount('passed')} / {zcount('failed') + zcount('error')} / {zcount('skipped')} |"
        )
    if len(runs) == 2:
        improvements[suite] = [
            f"`{name.rsplit('.', 1)[-1]}`"
            for name, (state, _) in sorted(runs["ours"].items())
            if state == "passed" and runs["ref013"].get(name, ("missing",))[0] in ("failed", "error")
        ]
        regressions[suite] = [
            (name, detail)
            for name, (state, detail) in sorted(runs["ours"].items())
            if state in ("failed", "error") and runs["ref013"].get(name, ("missing",))[0] == "passed"
        ]
for suite, failures in regressions.items():
    print(f"\n## {suite}: {len(failures)} fail with this package and pass with hdmf-zarr 0.13\n")
    fixed = improvements.get(suite, [])
    print(f"({len(fixed)} pass with this package and fail with hdmf-zarr 0.13: " + ", ".join(fixed) + ")\n")
    for name, detail in failures:
        lines = [line for line in detail.strip().splitlines() if line.strip()]
        print(f"- `{name}`\n\n  ```\n  " + "\n  ".join(lines[-12:]) + "\n  ```")
EOF
}
if [ "${SUMMARY_ONLY:-0}" = 1 ]; then summarize; exit 0; fi

if [ -x "$REPO/.venv/bin/python" ]; then
    BASE_PYTHON="$("$REPO/.venv/bin/python" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')"
else
    BASE_PYTHON="$(command -v python3)"
fi
run_clean() { env -u PYTHONPATH -u PYTHONHOME PYTHONNOUSERSITE=1 "$@"; }

# neuroconv 0.10.2 reads zarr.codec_registry, which zarr 3 removed: restore that one name (test scaffolding)
SHIM='try:
    import numcodecs.registry
    import zarr

    if not hasattr(zarr, "codec_registry"):
        zarr.codec_registry = numcodecs.registry.codec_registry
except Exception:
    pass
'

make_venv() {  # make_venv NAME PIP-ARGS-STEP1 -- PIP-ARGS-STEP2
    local venv="$WORK/$1"; shift
    [ -f "$venv/.ready" ] && return 0
    echo "== creating $venv" >&2
    run_clean "$BASE_PYTHON" -m venv --clear "$venv"
    local first=() second=() seen=0
    for arg in "$@"; do
        if [ "$arg" = "--" ]; then seen=1; elif [ $seen = 0 ]; then first+=("$arg"); else second+=("$arg"); fi
    done
    run_clean "$venv/bin/python" -m pip install -q --disable-pip-version-check "${first[@]}"
    [ ${#second[@]} -gt 0 ] && run_clean "$venv/bin/python" -m pip install -q --disable-pip-version-check "${second[@]}"
    local site
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    printf '%s' "$SHIM" > "$site/sitecustomize.py"
    run_clean "$venv/bin/python" -m pip freeze --disable-pip-version-check > "$venv/freeze.txt"
    touch "$venv/.ready"
}

# this package first, then the clients (as a user would); and hdmf-zarr 0.13 on zarr 2 with the same clients
make_venv ours -e "$REPO" -- "${CLIENTS[@]}" pytest
make_venv ref013 "hdmf-zarr==0.13.0" "zarr<3" "${CLIENTS[@]}" pytest

# the clients' test files, with a pytest.ini of our own so their addopts (xdist, doctests) stay out
INSPECTOR_SRC="$WORK/src/nwbinspector-0.7.2"
if [ ! -d "$INSPECTOR_SRC/tests" ]; then
    run_clean "$WORK/ours/bin/python" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
        nwbinspector==0.7.2 -d "$WORK/src"
    tar xzf "$WORK/src/nwbinspector-0.7.2.tar.gz" -C "$WORK/src"
fi
NEUROCONV_SRC="$WORK/src/neuroconv-$NEUROCONV_REF"
if [ ! -d "$NEUROCONV_SRC/$NEUROCONV_TESTS" ]; then
    mkdir -p "$NEUROCONV_SRC"
    if [ -d "$NEUROCONV_GIT" ]; then
        git -C "$NEUROCONV_GIT" archive "$NEUROCONV_REF" "$NEUROCONV_TESTS" | tar x -C "$NEUROCONV_SRC"
    else
        clone="$(mktemp -d)"
        git clone -q --depth 1 --branch "$NEUROCONV_REF" "$NEUROCONV_GIT" "$clone"
        (cd "$clone" && tar cf - "$NEUROCONV_TESTS") | tar x -C "$NEUROCONV_SRC"
        rm -rf "$clone"
    fi
fi
for src in "$INSPECTOR_SRC" "$NEUROCONV_SRC"; do
    printf '[pytest]\naddopts = -ra -p no:cacheprovider\nfilterwarnings =\n    ignore::DeprecationWarning\n' \
        > "$src/pytest.ini"
done

run_suite() {  # run_suite SUITE ENV
    local suite="$1" env="$2" dir args=()
    if [ "$suite" = neuroconv ]; then dir="$NEUROCONV_SRC"; args=("$NEUROCONV_TESTS")
    else dir="$INSPECTOR_SRC"; args=("${NWBINSPECTOR_TESTS[@]}"); fi
    echo "== $suite with $env" >&2
    # the environment's bin first on PATH: some tests run the clients' command-line tools
    (cd "$dir" && PATH="$WORK/$env/bin:$PATH" run_clean timeout 3000 "$WORK/$env/bin/python" -m pytest -q "${args[@]}" \
        --junitxml="$WORK/results/$suite-$env.xml" > "$WORK/results/$suite-$env.log" 2>&1) || true
    tail -n 1 "$WORK/results/$suite-$env.log" >&2
}
for suite in $SUITES; do
    for env in $ENVS; do run_suite "$suite" "$env"; done
done

summarize
