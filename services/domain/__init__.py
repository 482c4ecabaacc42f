"""The biology and campaign domain, free of the bus: organism models and FBA, design checks, the validity rule.

- `organism/`: the genome-scale model as arrays (`model.py`), GPR rules (`gpr.py`), warm-started HiGHS FBA
  (`fba.py`, `lp.py`);
- `designcheck.py`: is a design buildable in this campaign;
- `acceptance.py`: the one validity rule for measurements;
- `lifecycle.py`: the one fold of a proposal's status (review decisions, run outcomes; states drawn in
  `schemas/lifecycle.py`);
- `summary.py`, `pareto.py`: a campaign's outcome and its non-dominated set.

Nothing here imports NATS; services and simulators build on it.
"""
