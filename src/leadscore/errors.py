"""What the CLI turns into a clear message and a non-zero exit status."""


class LeadscoreError(Exception):
    """Bad input or configuration: the message names the file, row or field at fault (exit status 2)."""


class CheckFailed(Exception):
    """A job ran and wrote its results, which fail a check (a drift breach): exit status 1, result still printed."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result
