"""Synthetic lead exports calibrated on the real sample's facts, and a simulator that replays leads as they land."""
