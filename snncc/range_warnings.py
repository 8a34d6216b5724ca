"""QNT023: scored samples outside the integer input range that calibration set."""

from __future__ import annotations

from snncc.errors import Diagnostic


def range_warnings(ranges, source: str) -> list[Diagnostic]:
    """QNT023 per input whose scored samples reach outside the integer range calibration set:
    those values are clipped on the chip (a common cause: test data scaled unlike the training data)."""
    found = []
    for r in ranges:
        if not r.outside:
            continue
        calibrated = "" if r.calibrated_max is None else f"calibration max {r.calibrated_max:g}, "
        found.append(
            Diagnostic(
                "warning",
                "QNT023",
                f"the scored samples of input {r.node} reach {r.scored_min:g} to {r.scored_max:g}, outside the "
                f"calibrated range ({calibrated}largest integer input {r.representable_max:g}): "
                f"{r.clipped_fraction:.2%} of the scored input values are clipped on the chip",
                source=source,
                node=r.node,
                hint="calibrate on samples scaled like the scored ones (--calib), or scale --data as the model "
                "was trained (e.g. pixels in [0, 1], not [0, 16])",
            )
        )
    return found
