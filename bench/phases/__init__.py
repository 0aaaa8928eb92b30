"""One module per bench phase, each holding what its phase measures: the child function(s) run.py runs in a fresh
driver (`--child NAME`), and the phase function the parent calls, which runs them and records their figures."""
