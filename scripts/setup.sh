#!/usr/bin/env bash
# Creates .venv (Python 3.11) with snncc and everything it needs, Lava included.
# Safe to run again: it reinstalls only when requirements.txt or pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON=$candidate; break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "snncc setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi

stamp=.venv/.snncc-setup
want=$(cat requirements.txt pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "snncc setup: .venv is up to date (nothing to do)" >&2
  exit 0
fi

# One line per step, with the seconds so far: the whole setup takes minutes and pip runs quietly.
start=$SECONDS
total=9
step=0
say() { step=$((step + 1)); echo "snncc setup: [$step/$total, $((SECONDS - start)) s] $*" >&2; }
say "creating .venv with $($PYTHON --version)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
say "installing requirements.txt (torch CPU, numpy, h5py, ...: the longest step, a few minutes)"
# torch==2.13.0 is pinned in requirements.txt: the CPU build, never the multi-GB CUDA one.
pip install -r requirements.txt
# lava-nc 0.10.0 declares Python <3.11; its dependencies are installed above within its
# ranges, and snncc.backends.lava.compat fixes its one import-time failure on 3.11.
say "installing lava-nc 0.10.0 (the Loihi oracle)"
pip install --no-deps --ignore-requires-python lava-nc==0.10.0
# NeuroBench is a test-time oracle for synaptic-op counts; its declared dependencies (torchaudio,
# tonic, numba) would pull a CUDA torch and are not needed by the metric snncc checks against.
say "installing neurobench 2.3.0"
pip install --no-deps neurobench==2.3.0
# spikingjelly 2.0.0 declares torchvision and torchaudio (a CUDA torch); its neuron, layer and
# functional modules need only what requirements.txt pins.
say "installing spikingjelly 2.0.0"
pip install --no-deps spikingjelly==2.0.0
# NIR exporters the tests use as oracles (tests/integration/test_nir_peers.py).  norse 1.1.0 is an
# sdist declaring torchvision (a CUDA torch); its torch modules and to_nir need only torch, nir and
# nirtorch, pinned above, and its build needs setuptools_scm (pinned above) for its version.
say "installing norse 1.1.0"
pip install --no-deps --no-build-isolation norse==1.1.0
# sinabs 3.1.3 declares nir<=1.0.4 and samna (closed-source, for Speck chips); its layers, to_nir and
# from_nir run on nir 1.0.8 and need only pbr besides what is pinned above.
say "installing sinabs 3.1.3"
pip install --no-deps sinabs==3.1.3
# rockpool 3.1.0 (the xylo target's oracle, backends/xylosim) declares only numpy and scipy, but its
# torch/jax extras would pull a CUDA torch; its XyloSim needs xylosim (pinned, built from source).
say "installing rockpool 3.1.0 (the Xylo oracle)"
pip install --no-deps rockpool==3.1.0
say "installing snncc itself (editable)"
pip install --no-deps --no-build-isolation -e .
echo "$want" > "$stamp"
echo "snncc setup: done in $((SECONDS - start)) s (.venv/bin/snncc)" >&2
