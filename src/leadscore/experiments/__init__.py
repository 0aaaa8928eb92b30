"""A/B testing of models on live traffic: the split of leads into arms, per-arm figures with intervals, a verdict."""
