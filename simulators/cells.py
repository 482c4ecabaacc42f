"""The true cell a profile names (the one constructor the labs, the ground truth and the benchmarks use)."""

from __future__ import annotations

from simulators.profiles import CellProfile, get_profile
from simulators.truecell import TrueCell


def make_cell(organism_spec: str, profile: str | CellProfile = "default") -> TrueCell:
    """TrueCell on the organism model, KineticCell for a profile whose truth is "kinetic", or GenomeCell on the
    profile's own organism model when it names one (the campaign then plans with another model)."""
    resolved = get_profile(profile)
    if resolved.truth == "kinetic":
        from simulators.kinetic import KineticCell

        return KineticCell(organism_spec, resolved)
    if resolved.organism is not None:
        from simulators.genome import GenomeCell

        return GenomeCell(resolved.organism, resolved)
    return TrueCell(organism_spec, resolved)


def truth_version(profile: str | CellProfile) -> str | None:
    """The version tag of a profile's truth when it is not TrueCell's (ground-truth cache key), else None."""
    resolved = get_profile(profile)
    if resolved.truth == "kinetic":
        from simulators.kinetic import KineticCell

        return f"{KineticCell.truth_version}:{resolved!r}"
    if resolved.organism is not None:
        from simulators.genome import GenomeCell

        return f"{GenomeCell.truth_version}:{resolved!r}"
    return None
