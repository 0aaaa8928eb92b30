"""leadscore: real-time lead scoring on a Delta Lake medallion lakehouse."""

__version__ = "0.1.0"
