"""The predictor: deep surrogate models of a campaign's measurements."""

MIN_TRAINING_MEASUREMENTS = 3
"""A campaign's first model is trained once this many measurements are accepted."""
