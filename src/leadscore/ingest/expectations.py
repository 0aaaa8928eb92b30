"""Data-quality expectations on bronze rows, declared once, in the manner of Delta Live Tables.

Each has a name, a SQL rule over the raw (bronze) and typed (silver) columns, and an action: `quarantine` sends
a failing row to the quarantine table with the names of every rule it failed; `warn` keeps the row in silver
and lists the rule in its `_warnings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from leadscore.schema import COLUMNS, KEY

Action = Literal["quarantine", "warn"]
# Silver's column holding a raw value that said something (not empty, not the form's placeholder) is this + raw name.
ANSWERED = "_answered__"


@dataclass(frozen=True)
class Expectation:
    name: str
    rule: str  # true when the row meets the expectation
    action: Action


def _answered(raw: str) -> str:
    """The raw value said something: not empty, not the form's placeholder (see silver.with_typed_columns)."""
    return f"`{ANSWERED}{raw}` IS NOT NULL"


def _declared() -> tuple[Expectation, ...]:
    rules = [
        Expectation("row_parsed", "_rescued_data IS NULL", "quarantine"),
        Expectation("prospect_id_present", f"{KEY} IS NOT NULL", "quarantine"),
        Expectation(
            "prospect_id_is_uuid",
            f"{KEY} RLIKE '^[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}$'",
            "warn",
        ),
        Expectation("lead_number_present", "lead_number IS NOT NULL", "quarantine"),
    ]
    for column in COLUMNS:
        typed, raw = column.name, column.raw_name
        if column.kind in ("int", "double"):
            rules.append(
                Expectation(f"{typed}_is_number", f"NOT ({_answered(raw)}) OR {typed} IS NOT NULL", "quarantine")
            )
            rules.append(Expectation(f"{typed}_not_negative", f"{typed} IS NULL OR {typed} >= 0", "quarantine"))
        elif column.kind == "bool":
            rules.append(
                Expectation(f"{typed}_is_yes_or_no", f"NOT ({_answered(raw)}) OR {typed} IS NOT NULL", "quarantine")
            )
        elif column.kind == "label":
            rules.append(
                Expectation(f"{typed}_is_0_or_1", f"NOT ({_answered(raw)}) OR {typed} IS NOT NULL", "quarantine")
            )
    rules += [
        # The real export tops out near 250 visits and 2,300 minutes on site: far beyond that is worth a look.
        Expectation("total_visits_plausible", "total_visits IS NULL OR total_visits <= 1000", "warn"),
        Expectation(
            "total_browsing_time_plausible", "total_browsing_time IS NULL OR total_browsing_time <= 10000", "warn"
        ),
    ]
    return tuple(rules)


EXPECTATIONS: tuple[Expectation, ...] = _declared()


@cache
def failed(action: Action) -> str:
    """SQL for the names of the expectations of this action the row fails (a rule that evaluates to null fails)."""
    checks = [
        f"CASE WHEN NOT coalesce({e.rule}, false) THEN '{e.name}' END" for e in EXPECTATIONS if e.action == action
    ]
    # array_except of null, not array_compact: a lambda (`filter`) keeps the whole projection out of generated code.
    return f"array_except(array({', '.join(checks)}), array(CAST(NULL AS STRING)))"
