"""Finite-volume diffusion on a 1-D grid (planar strip or axisymmetric disc), for the method of lines.

Cells of width dx cover [0, length]; the faces at 0 and at length carry no flux (a symmetry axis or the
colony's centre at 0, the dish wall at length). In the axisymmetric ("radial") geometry a cell is an
annulus, its volume proportional to its mid radius and each face's area to the face's radius, so
(1/r) d/dr (r D dc/dr) is conserved exactly. Time steps are backward Euler, (I - dt D L) c' = c,
unconditionally stable, so the reaction step (dFBA, or the learned kinetics) sets the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Geometry(StrEnum):
    """Geometry of the 1-D grid."""

    PLANAR = "planar"
    RADIAL = "radial"


@dataclass(frozen=True)
class Grid:
    """A 1-D grid of `cells` cells over [0, length_mm]."""

    cells: int = 21
    length_mm: float = 10.0
    geometry: Geometry = Geometry.RADIAL

    def __post_init__(self) -> None:
        if self.cells < 2:
            raise ValueError(f"cells: need at least 2, got {self.cells}")
        if not self.length_mm > 0:
            raise ValueError(f"length_mm: must be positive, got {self.length_mm}")

    @property
    def dx(self) -> float:
        """Cell width (mm)."""
        return self.length_mm / self.cells

    @property
    def positions_mm(self) -> np.ndarray:
        """Cell centres (mm from the inoculum centre)."""
        return (np.arange(self.cells) + 0.5) * self.dx

    @property
    def volumes(self) -> np.ndarray:
        """Relative cell volumes (areas of the annuli in the radial geometry)."""
        return self.positions_mm.copy() if self.geometry == Geometry.RADIAL else np.ones(self.cells)

    def laplacian(self) -> np.ndarray:
        """The conservative no-flux Laplacian (1/mm²), cells x cells."""
        n, dx = self.cells, self.dx
        faces = np.arange(1, n) * dx  # inner faces between cell i and i+1
        area = faces if self.geometry == Geometry.RADIAL else np.ones(n - 1)
        vol = self.volumes
        lap = np.zeros((n, n))
        for i, a in enumerate(area):
            lap[i, i] -= a / vol[i]
            lap[i, i + 1] += a / vol[i]
            lap[i + 1, i + 1] -= a / vol[i + 1]
            lap[i + 1, i] += a / vol[i + 1]
        return lap / dx**2

    def implicit_step(self, diffusivity: float, dt_h: float) -> np.ndarray:
        """(I - dt D L)^-1 for one backward-Euler diffusion step of D (mm²/h) over dt (h)."""
        if diffusivity < 0 or dt_h <= 0:
            raise ValueError(f"need diffusivity >= 0 and dt > 0, got {diffusivity}, {dt_h}")
        return np.linalg.inv(np.eye(self.cells) - dt_h * diffusivity * self.laplacian())

    def total(self, values: np.ndarray) -> np.ndarray:
        """Amount over the grid (volume-weighted sum along the last axis)."""
        return np.asarray(values) @ (self.volumes * self.dx)
