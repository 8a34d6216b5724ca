"""snncc's own Lava neuron for int_lif features Lava's stock LIF lacks (ir/SPEC.md §3 int_lif).

Soft reset (subtract vth·2^6), a voltage floor, a per-sample initial potential v_init (and current
u_init) and non-spiking layers.  The process model inherits Intel's fixed-point sub-threshold dynamics
(AbstractPyLifModelFixed: decays, int32 storage, u wrap, v clip) unchanged and adds only
those features, so everything the stock LIF does is still Intel's arithmetic.

Import this module only after snncc.backends.lava.compat.import_lava().
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import AbstractPyLifModelFixed
from lava.proc.lif.process import LIF

from snncc.ir import IntCLIF
from snncc.ir.ops.clif import clif_extra_reset, clif_m


class SnnccLIF(LIF):
    """LIF with per-sample reset to v_init, optional soft reset, floor, and a non-spiking mode."""

    def __init__(
        self,
        *,
        shape: tuple[int, ...],
        du: int,
        dv: int,
        vth: int,
        bias_mant: np.ndarray,
        bias_exp: np.ndarray,
        v_init: np.ndarray,
        subtract_reset: bool,
        u_init: np.ndarray | None = None,
        v_floor: int | None,
        spiking: bool,
        reset_interval: int,
        reset_offset: int,
        name: str | None = None,
    ) -> None:
        super().__init__(
            shape=shape,
            du=du,
            dv=dv,
            vth=vth,
            bias_mant=bias_mant,
            bias_exp=bias_exp,
            name=name,
            reset_interval=reset_interval,
            reset_offset=reset_offset,
            subtract_reset=subtract_reset,
            has_floor=v_floor is not None,
            v_floor=0 if v_floor is None else v_floor,
            spiking=spiking,
        )
        self.v_init = Var(shape=shape, init=np.asarray(v_init, dtype=np.int32))
        self.u_init = Var(
            shape=shape, init=np.zeros(shape, np.int32) if u_init is None else np.asarray(u_init, np.int32)
        )


class _SnnccLifModel(AbstractPyLifModelFixed):
    """Shared fixed-point model; Lava lets a decorated model implement one process only."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)
    v_init: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    u_init: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.effective_vth = 0
        self.reset_interval = proc_params["reset_interval"]
        self.reset_offset = proc_params["reset_offset"] % self.reset_interval
        self.subtract_reset = proc_params["subtract_reset"]
        self.has_floor = proc_params["has_floor"]
        self.v_floor = proc_params["v_floor"]
        self.spiking = proc_params["spiking"]

    def scale_threshold(self) -> None:
        self.effective_vth = np.left_shift(self.vth, self.vth_shift)
        self.isthrscaled = True

    def run_spk(self) -> None:
        a_in_data = self.a_in.recv()
        if self.time_step % self.reset_interval == self.reset_offset:
            self.u[:] = self.u_init  # a new sample reaches this layer (SPEC.md §1.1)
            self.v[:] = self.v_init
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        self.subthr_dynamics(activation_in=a_in_data)
        if self.has_floor:
            self.v[:] = np.maximum(self.v, self.v_floor)
        spikes = self.v > self.effective_vth if self.spiking else np.zeros(self.v.shape, dtype=bool)
        self.reset_spiked(spikes)
        self.s_out.send(spikes)

    def reset_spiked(self, spikes: np.ndarray) -> None:
        if self.subtract_reset:
            self.v[spikes] -= self.effective_vth
        else:
            self.v[spikes] = 0


class SnnccCLIF(SnnccLIF):
    """Complementary LIF with look-up tables (SPEC.md §int_clif): a second state m per neuron.

    ``clif`` is the layer's int_clif op: the process model computes m and the extra reset with
    the IR's own functions of it (snncc.ir.ops.clif), so Lava adds only its int32 storage around them.
    """

    def __init__(self, *, clif: IntCLIF, **kwargs):
        super().__init__(**kwargs)
        self.proc_params.overwrite("clif", clif)
        self.m = Var(shape=kwargs["shape"], init=0)


@implements(proc=SnnccLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySnnccLifModelFixed(_SnnccLifModel):
    pass


@implements(proc=SnnccCLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySnnccClifModelFixed(_SnnccLifModel):
    m: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def run_spk(self) -> None:
        if self.time_step % self.reset_interval == self.reset_offset:
            self.m[:] = 0
        super().run_spk()

    def reset_spiked(self, spikes: np.ndarray) -> None:
        op = self.proc_params["clif"]
        v = self.v.astype(np.int64)
        m = clif_m(self.m.astype(np.int64), v, spikes, op)
        self.m[:] = m
        self.v[:] = np.where(spikes, v - int(self.effective_vth) - clif_extra_reset(m, op), v)
