#!/usr/bin/env bash
# The demo: write a realistic NWB session to Zarr, reopen it lazily, print a summary, verify the round trip.
cd "$(dirname "$0")/.."
source scripts/_env.sh
exec .venv/bin/python -m hdmf_zarr.demo "$@"
