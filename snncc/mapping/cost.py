"""Synapse-memory cost models, selected by a target's ``memory_model``.

loihi1_synapse_words (after nengo-loihi's bits-per-axon model, loihi-lava-semantics.md §8.1):
each input axon of a core stores its synapses into that core in blocks of at most 64; a block
of n synapses costs n·(weight bits + index bits) + 10 header bits (4 + 6), rounded up to whole
64-bit words.  Dense connections (an axon reaching every neuron of a block in order) need no
index bits; sparse and convolutional ones need ⌈log2(neurons in the core)⌉, at least 6.

xylo_dense: a Xylo core configures dense weight matrices; snncc counts weight bits per nonzero synapse.

loihi2_estimator (Intel's public Loihi 2 resource estimator, lava-optimization
ResourceEstimatorSatScheduler; ../shared/docs/silicon-and-metrics.md): one memory of 2^14 64-bit
words per core holds the synapses (weight bits x synapses / 64 words, no index bits or headers),
a synapse-map entry per input axon (half a word) and an axon-map entry per output axon (36 bits).
Convolution kernels are stored once per core as in loihi2_shared_conv (snncc's assumption: the
estimator does not model convolutions).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

WORD_BITS = 64
BLOCK = 64
HEADER_BITS = 10


def loihi1_synapse_bits(synapses: np.ndarray, weight_bits: int, index_bits: int) -> np.ndarray:
    """Memory bits for axons with ``synapses`` synapses each (vectorised over axons)."""
    k = np.asarray(synapses, dtype=np.int64)
    per_syn = weight_bits + index_bits
    full_block_words = math.ceil((BLOCK * per_syn + HEADER_BITS) / WORD_BITS)
    rem = k % BLOCK
    rem_words = np.where(rem > 0, -(-(rem * per_syn + HEADER_BITS) // WORD_BITS), 0)
    return ((k // BLOCK) * full_block_words + rem_words) * WORD_BITS


def index_bits(sparse: bool, neurons_in_core: int) -> int:
    return max(6, math.ceil(math.log2(max(neurons_in_core, 2)))) if sparse else 0


MEMORY_MODELS: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "loihi1_synapse_words": loihi1_synapse_bits,
    "loihi2_shared_conv": loihi1_synapse_bits,  # dense and sparse connections as on Loihi 1
    "xylo_dense": lambda synapses, weight_bits, _index_bits: np.asarray(synapses, dtype=np.int64) * weight_bits,
    "loihi2_estimator": lambda synapses, weight_bits, _index_bits: np.asarray(synapses, dtype=np.int64) * weight_bits,
}
# memory models whose cores store a convolution's kernel once instead of every synapse
SHARED_CONV_MODELS = frozenset({"loihi2_shared_conv", "loihi2_estimator"})


@dataclass(frozen=True)
class MapEntries:
    """Bits a core's one memory spends per input axon (synapse map) and per output axon (axon map)."""

    per_input_axon: int
    per_output_axon: int


# memory models whose synapse memory also holds the axon maps (the per-core limit is that one memory)
SHARED_MEMORY_MODELS = {
    # ResourceEstimatorSatScheduler: syn_map_entries / 2 words; axon-map entries at 36 bits each
    "loihi2_estimator": MapEntries(per_input_axon=32, per_output_axon=36),
}
AXON_POINTER_BITS = 32  # per input axon: where its kernel slice starts (assumed; Loihi 2's format is not public)


def shared_conv_bits(
    out_channels: int, in_channels_per_group: int, kernel: tuple[int, int], axons: int, weight_bits: int
) -> int:
    """A core holding ``out_channels`` of a conv stores their kernels once, plus a pointer per input axon."""
    kernel_bits = out_channels * in_channels_per_group * kernel[0] * kernel[1] * weight_bits
    return -(-(kernel_bits + axons * AXON_POINTER_BITS) // WORD_BITS) * WORD_BITS
