"""Whether an A/B report lets the challenger take over: its deciding figure better than the champion's beyond the
interval, in the report's latest window, and the version it measured still the registry's challenger."""

from __future__ import annotations

from leadscore.errors import LeadscoreError
from leadscore.experiments.figures import CHALLENGER, DECIDING
from leadscore.experiments.report import DIFFERENCE


def challenger_to_promote(latest: list[dict], registry_challenger: str | None) -> str:
    """The version to promote, from the latest window's rows of gold.ab_results; otherwise a LeadscoreError (exit
    status 2) naming the figure and its interval."""
    by_arm = {row["arm"]: row for row in latest}
    if DIFFERENCE not in by_arm:
        raise LeadscoreError("gold.ab_results has no report of this experiment: run `leadscore ab-report` first")
    diff = by_arm[DIFFERENCE]
    value, low, high = (diff[f"{DECIDING}{part}"] for part in ("", "_low", "_high"))
    if value is None:
        raise LeadscoreError(f"{DECIDING} cannot be compared yet: {diff['verdict']}")
    shown = f"{DECIDING} challenger - champion {value:+.4f}, {diff['level']:.0%} interval [{low:+.4f}, {high:+.4f}]"
    if not (diff["significant"] and low > 0):
        raise LeadscoreError(f"the challenger is not better beyond the interval: {shown}")
    versions = by_arm[CHALLENGER]["model_versions"].split(",")
    if len(versions) != 1 or versions[0] != registry_challenger:
        raise LeadscoreError(
            f"the report measured challenger version(s) {','.join(versions)}, and the registry's challenger is "
            f"{registry_challenger}: run `leadscore ab-report` on the current experiment first ({shown})"
        )
    return versions[0]
