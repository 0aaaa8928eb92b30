"""The source export's 37 columns and their home-buying names: the one place that maps them.

The Kaggle "Lead Scoring" export is re-read as home buying: `Converted` means the lead contacted an agent.
Bronze keeps the raw strings under `raw_name`; silver renames to `name` and casts to `kind`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["string", "int", "double", "bool", "label"]


@dataclass(frozen=True)
class Column:
    source: str  # header text in the export
    name: str  # silver (domain) name
    kind: Kind

    @property
    def raw_name(self) -> str:
        """Bronze column name: the source header made Delta-safe (no spaces), values kept as raw strings."""
        return "".join(c if c.isalnum() else "_" for c in self.source)


COLUMNS: tuple[Column, ...] = (
    Column("Prospect ID", "prospect_id", "string"),
    Column("Lead Number", "lead_number", "int"),
    Column("Lead Origin", "lead_capture_channel", "string"),
    Column("Lead Source", "referral_source", "string"),
    Column("Do Not Email", "opted_out_email", "bool"),
    Column("Do Not Call", "opted_out_call", "bool"),
    Column("Converted", "contacted_agent", "label"),
    Column("TotalVisits", "total_visits", "int"),
    Column("Total Time Spent on Website", "total_browsing_time", "int"),
    Column("Page Views Per Visit", "avg_listings_viewed_per_session", "double"),
    Column("Last Activity", "last_action", "string"),
    Column("Country", "country", "string"),
    Column("Specialization", "home_type_interest", "string"),
    Column("How did you hear about X Education", "heard_about_us_via", "string"),
    Column("What is your current occupation", "occupation", "string"),
    Column("What matters most to you in choosing a course", "buying_priority", "string"),
    Column("Search", "saw_search_ad", "bool"),
    Column("Magazine", "saw_magazine_ad", "bool"),
    Column("Newspaper Article", "saw_newspaper_article", "bool"),
    Column("X Education Forums", "saw_forum_post", "bool"),
    Column("Newspaper", "saw_newspaper_ad", "bool"),
    Column("Digital Advertisement", "saw_digital_ad", "bool"),
    Column("Through Recommendations", "came_through_recommendation", "bool"),
    Column("Receive More Updates About Our Courses", "wants_listing_updates", "bool"),
    Column("Tags", "lead_status_tag", "string"),
    Column("Lead Quality", "lead_quality", "string"),
    Column("Update me on Supply Chain Content", "wants_market_reports", "bool"),
    Column("Get updates on DM Content", "wants_mortgage_tips", "bool"),
    Column("Lead Profile", "lead_profile", "string"),
    Column("City", "city", "string"),
    Column("Asymmetrique Activity Index", "activity_index", "string"),
    Column("Asymmetrique Profile Index", "profile_index", "string"),
    Column("Asymmetrique Activity Score", "activity_score", "int"),
    Column("Asymmetrique Profile Score", "profile_score", "int"),
    Column("I agree to pay the amount through cheque", "agreed_to_pay_by_cheque", "bool"),
    Column("A free copy of Mastering The Interview", "requested_buyer_guide", "bool"),
    Column("Last Notable Activity", "final_engagement_action", "string"),
)

SOURCE_HEADER: tuple[str, ...] = tuple(c.source for c in COLUMNS)
RAW_NAMES: tuple[str, ...] = tuple(c.raw_name for c in COLUMNS)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}

KEY = "prospect_id"
LABEL = "contacted_agent"
# The newest event of a lead is the greatest (event_ts, event_file, event_seq): the file's landing time, then its
# path (two files landed in the same millisecond always compare the same way), then the line.
ORDER = ("event_ts", "event_file", "event_seq")
# The web form's untouched drop-down: means "not answered", never a category.
PLACEHOLDER = "Select"
YES, NO = "Yes", "No"
