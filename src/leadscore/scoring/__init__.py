"""A model at serving time: scores, the scores query that writes gold, and batch scoring of a file."""
