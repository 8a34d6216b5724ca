"""utilization.png: how full each core is, readable from one core to a board of thousands.

Up to BARS_UP_TO cores: a bar per resource per core.  Beyond that bars turn into a comb, so each
chip in use becomes a heatmap of its core mesh, each core coloured by its most-used resource
(the one that would stop more pieces going there) and lettered with which resource that is.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from snncc.mapping.placement import Core, Placement
from snncc.mapping.resources import memory_bits
from snncc.target import Target

BARS_UP_TO = 32  # cores
# CoreUsage field -> (CoreLimits field, label, letter on the heatmap)
RESOURCES = {
    "neurons": ("neurons", "neurons", "N"),
    "synapse_bits": ("synapse_memory_bits", "synapse bits", "S"),
    "fan_in_axons": ("fan_in_axons", "fan-in axons", "I"),
    "fan_out_axons": ("fan_out_axons", "fan-out axons", "O"),
}
CELL_INCHES = 0.24  # one core on the heatmap: room for its letter
PANELS_PER_ROW = 8
META = {"Software": None}  # no matplotlib version in the file: the same inputs give the same bytes


def fractions(core: Core, target: Target) -> dict[str, float]:
    """Each resource's use on ``core`` as a fraction of the target's per-core limit."""
    limits = target.per_core
    used = {key: getattr(core.usage, key) for key in RESOURCES}
    used["synapse_bits"] = memory_bits(core.usage, target)  # with the axon map where it shares the memory
    return {key: used[key] / getattr(limits, limit).value for key, (limit, _, _) in RESOURCES.items()}


def plot_utilization(placement: Placement, target: Target, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    if len(placement.cores) <= BARS_UP_TO:
        _bars(placement, target, path)
    else:
        _heatmaps(placement, target, path)


def _bars(placement: Placement, target: Target, path: Path) -> None:
    import matplotlib.pyplot as plt

    cores = placement.cores
    fig, ax = plt.subplots(figsize=(8, 3.2))
    idx = np.arange(len(cores))
    used = [fractions(c, target) for c in cores]
    width = 0.8 / len(RESOURCES)
    for k, (key, (_, label, _)) in enumerate(RESOURCES.items()):
        offset = (k - (len(RESOURCES) - 1) / 2) * width
        ax.bar(idx + offset, [u[key] for u in used], width=width, label=label)
    ax.set_xticks(idx)
    ax.set_xlim(-0.6, len(cores) - 0.4)
    ax.set_xlabel("core")
    ax.set_ylabel("fraction of the core's limit")
    ax.set_ylim(0, 1.05)
    ax.set_title("Per-core utilization")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata=META)
    plt.close(fig)


def _heatmaps(placement: Placement, target: Target, path: Path) -> None:
    import matplotlib.pyplot as plt

    columns, rows = target.mesh
    chips = sorted({c.chip for c in placement.cores})
    per_row = min(len(chips), PANELS_PER_ROW)
    panel_rows = math.ceil(len(chips) / per_row)
    panel_w, panel_h = columns * CELL_INCHES + 0.3, rows * CELL_INCHES + 0.5
    fig, axes = plt.subplots(
        panel_rows,
        per_row,
        figsize=(max(per_row * panel_w + 1.2, 6.0), panel_rows * panel_h + 1.1),
        squeeze=False,
    )
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.9")  # grey: a core with nothing on it
    letters = {key: letter for key, (_, _, letter) in RESOURCES.items()}
    image = None
    for ax, chip in zip(axes.flat, chips, strict=False):
        grid = np.full((rows, columns), np.nan)
        on_chip = [c for c in placement.cores if c.chip == chip]
        for core in on_chip:
            used = fractions(core, target)
            most = max(used, key=used.__getitem__)
            column, row = core.position
            grid[row, column] = used[most]
            dark = used[most] > 0.6  # viridis is light at the top: dark letters there
            ax.text(column, row, letters[most], ha="center", va="center", fontsize=6, color="k" if dark else "w")
        image = ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, aspect="equal", interpolation="nearest")
        ax.set_title(f"chip {chip}: {len(on_chip)} cores", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.flat[len(chips) :]:
        ax.set_axis_off()
    fig.suptitle(
        f"Per-core utilization: {len(placement.cores)} cores on {len(chips)} of {int(target.chips)} chips "
        "(chips with no core in use not shown)",
        fontsize=9,
    )
    key = ", ".join(f"{letter} {label}" for _, label, letter in RESOURCES.values())
    fig.text(0.5, 0.01, f"colour: the core's most-used resource, as a fraction of its limit; letter: which ({key}); "
             "grey: core not used", ha="center", fontsize=7)  # fmt: skip
    fig.tight_layout(rect=(0, 0.03, 0.9, 0.95))
    bar_ax = fig.add_axes((0.92, 0.15, 0.015, 0.7))
    fig.colorbar(image, cax=bar_ax).ax.tick_params(labelsize=7)
    fig.savefig(path, dpi=100, metadata=META)
    plt.close(fig)
