"""Silver -> gold training table -> candidates fitted, one chosen: the pure part of training a model."""
