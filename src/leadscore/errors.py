"""The one error type the CLI turns into a clear message and a non-zero exit."""


class LeadscoreError(Exception):
    """Bad input or configuration: the message names the file, row or field at fault."""
