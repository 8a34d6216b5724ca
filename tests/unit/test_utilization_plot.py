"""utilization.png at board scale: a heatmap per chip whose colours are the cores' most-used resource."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.image import imread

from snncc.mapping.arrange import mesh_position
from snncc.mapping.placement import Core, CoreUsage, Piece, Placement
from snncc.target import load_target
from snncc.utilization import plot_utilization


def board(target, usages: list[CoreUsage]) -> Placement:
    per_chip = int(target.cores_per_chip)
    cores = tuple(
        Core(i, i // per_chip, mesh_position(i, target), (Piece("layer", ((0, 1),)),), usage)
        for i, usage in enumerate(usages)
    )
    return Placement(target.name, cores, lower_bound_cores=len(cores))


def pixels_near(image: np.ndarray, rgb: tuple[float, ...]) -> int:
    return int(np.all(np.abs(image[..., :3] - np.array(rgb[:3])) < 0.02, axis=-1).sum())


def test_300_cores_on_three_chips_read_as_three_heatmaps(tmp_path):
    target = load_target("nahuku32")  # 32 chips of 128 cores (8 x 16 mesh)
    lim = target.per_core
    full = CoreUsage(int(lim.neurons.value), 0, 0, 0)  # chip 0: neurons at the limit
    idle = CoreUsage(0, 0, 0, 0)  # chip 1: nothing used on a core that holds a piece
    half = CoreUsage(1, 0, int(lim.fan_in_axons.value) // 2, 0)  # chip 2: half the input axons (the most used)
    placement = board(target, [full] * 128 + [idle] * 128 + [half] * 44)
    path = tmp_path / "utilization.png"
    plot_utilization(placement, target, path)
    image = imread(path)
    height, width = image.shape[:2]
    assert 400 <= height <= 1500 and 600 <= width <= 2000  # one screen, not a 300-bar comb

    viridis = colormaps["viridis"]
    yellow, purple, teal = (pixels_near(image, viridis(x)) for x in (1.0, 0.0, 0.5))
    grey = pixels_near(image, (0.9, 0.9, 0.9))  # the 84 unused cores of chip 2
    cell = yellow / 128
    assert cell >= 15 * 15  # each core a readable square (less its letter)
    assert abs(purple - yellow) < 0.1 * yellow  # chip 1: 128 cores at 0
    assert abs(teal - 44 * cell) < 0.1 * 44 * cell  # chip 2's cores coloured by input axons, 0.5
    assert abs(grey - 84 * cell) < 0.15 * 84 * cell


def test_a_few_cores_keep_one_bar_per_resource(tmp_path):
    target = load_target("loihi")
    lim = target.per_core
    usage = CoreUsage(int(lim.neurons.value) // 2, int(lim.synapse_memory_bits.value), 10, 10)
    plot_utilization(board(target, [usage] * 3), target, tmp_path / "u.png")
    image = imread(tmp_path / "u.png")
    tab = colormaps["tab10"]  # bars in resource order: neurons (half used), synapse bits (full), ...
    neurons, synapse_bits = pixels_near(image, tab(0)), pixels_near(image, tab(1))
    assert neurons > 500 and 1.8 < synapse_bits / neurons < 2.2
