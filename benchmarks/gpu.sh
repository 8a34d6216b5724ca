#!/usr/bin/env bash
# refsim's torch path on a GPU (issue 27 item 6): bit-identity with the CPU reference on a dense and a
# conv network, then synaptic events/s at batch 256 (goal >= 1e11 on one H100).  Where torch sees no
# GPU it prints "no GPU: unmeasured" and exits 0.  Run from anywhere; PYTHON overrides the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
exec "$PYTHON" benchmarks/gpu.py "$@"
