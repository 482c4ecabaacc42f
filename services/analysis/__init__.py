"""Statistics a reviewer can trust: cleaning, batch-stratified association, GLMs. Pure: no NATS.

`frame` turns measurements (a campaign's or an imported CSV's) into one observation table;
`cleaning` applies the QC, missing-readout, normalisation and outlier policies, flagging every
excluded row with its reason; `association` computes per-intervention 2x2 tables per stratum
(statsmodels `Table2x2` / `StratifiedTable`); `glm` fits the log-binomial (Poisson-robust
fallback) and logistic models and cross-validates the logistic classifier of hits; `analyze`
runs the whole pipeline and renders it.
"""
