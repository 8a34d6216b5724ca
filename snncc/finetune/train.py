"""Fine-tuning with the target's quantization in the loop: surrogate gradients through the canonical
graph (executor.py), every forward pass on the integer grid the quantizer gives the current values
(grid.py, straight through), the scales re-calibrated every epoch, stopping at a time budget.  The
epoch whose grid model scores best on held-out training samples is kept.  The budget is CPU time
(this process's), so a shared machine trains as many epochs as an idle one."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from snncc.ir import Graph, Input, IntInput, Output
from snncc.passes.calibrate import calibrate
from snncc.passes.quantize import Quantize, quantize, quantize_inputs

from .executor import GraphModule
from .grid import on_grid


@dataclass(frozen=True)
class Schedule:
    seconds: float = 90.0  # CPU seconds: training stops after the epoch that crosses it
    max_epochs: int = 30
    lr: float = 2e-3
    batch: int = 64
    calibration_samples: int = 256
    seed: int = 0


@dataclass(frozen=True)
class Trained:
    graph: Graph  # CANONICAL, every value on the integer grid
    epochs: int
    seconds: float
    validation: list[float]  # grid model's accuracy on the validation samples after each epoch (0: before)


def finetune_graph(
    graph: Graph,
    settings: Quantize,
    max_steps: int,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    schedule: Schedule = Schedule(),
    say: Callable[[str], None] = lambda _m: None,
) -> Trained:
    torch.manual_seed(schedule.seed)
    rng = np.random.default_rng(schedule.seed)
    module = GraphModule(graph)
    (input_name, _), *_ = graph.of_type(Input)
    x_train, y_train = train
    calib_x = {input_name: x_train[: schedule.calibration_samples]}
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=schedule.lr)

    def grid_now(calibration) -> tuple[dict, Graph]:
        values = on_grid(module.to_graph(), settings, calibration)
        return values, module.to_graph(values)

    def chip_inputs(calibration, x: np.ndarray) -> torch.Tensor:
        """The inputs on the chip's input grid (in float units)."""
        int_graph, _ = quantize(module.to_graph(), settings, calibration)
        (_, op), *_ = int_graph.of_type(IntInput)
        xi = quantize_inputs(int_graph, {input_name: x})[input_name].astype(np.float64) * op.scale
        return torch.tensor(xi, dtype=torch.float32)

    def accuracy(values: dict, x: torch.Tensor, y: np.ndarray) -> float:
        with torch.no_grad():
            return float((_logits(module(x, _tensors(values)), graph).argmax(1).numpy() == y).mean())

    start, cpu = time.perf_counter(), time.process_time()
    calibration = calibrate(module.to_graph(), calib_x, max_steps=max_steps)
    xt, yt = chip_inputs(calibration, x_train), torch.tensor(y_train)
    xv = chip_inputs(calibration, validation[0])
    values, best_graph = grid_now(calibration)
    scores = [accuracy(values, xv, validation[1])]
    best = scores[0]
    say(f"fine-tuning: the deployable form scores {100 * best:.2f} % on {len(xv)} held-out training samples")
    epochs = 0
    while epochs < schedule.max_epochs and time.process_time() - cpu < schedule.seconds:
        module.train()
        for idx in np.array_split(rng.permutation(len(xt)), max(1, len(xt) // schedule.batch)):
            values = on_grid(module.to_graph(), settings, calibration)
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(_logits(module(xt[idx], _tensors(values)), graph), yt[idx])
            loss.backward()
            optimizer.step()
        epochs += 1
        calibration = calibrate(module.to_graph(), calib_x, max_steps=max_steps)
        values, current = grid_now(calibration)
        scores.append(accuracy(values, xv, validation[1]))
        say(f"epoch {epochs}: loss {float(loss.detach()):.3f}, held-out {100 * scores[-1]:.2f} %")
        if scores[-1] > best:
            best, best_graph = scores[-1], current
    return Trained(best_graph, epochs, time.perf_counter() - start, scores)


def _tensors(values: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, torch.Tensor]]:
    return {
        name: {k: torch.as_tensor(np.asarray(v), dtype=torch.float32) for k, v in fields.items()}
        for name, fields in values.items()
    }


def _logits(readout: torch.Tensor, graph: Graph) -> torch.Tensor:
    """Class scores from the readout: per-step readouts summed over the steps (spike counts)."""
    (_, op), *_ = graph.of_type(Output)
    flat = readout.sum(1) if op.readout in ("spike_steps", "v_steps") else readout
    return flat.reshape(flat.shape[0], -1)
