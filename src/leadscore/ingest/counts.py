"""What an ingest run wrote: read from its tagged commits, or counted from its rows when history cannot say."""

from __future__ import annotations

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from leadscore.config import Config
from leadscore.streaming import commit_tags

BRONZE_RECORD = "ingested"  # what a batch's bronze commit records beside its tag: its files and repaired rows


def committed_batches(spark: SparkSession, checkpoint: str) -> int:
    """How many micro-batches the checkpoint has committed: the next run starts at this batch id (or replays it)."""
    try:
        names = spark.read.text(f"{checkpoint}/commits").select(F.col("_metadata.file_name")).distinct().collect()
    except AnalysisException:
        return 0
    return max((int(r[0]) + 1 for r in names if r[0].isdigit()), default=0)


OTHER_COMMITS = 20  # commits by other writers that a run's counts allow for among its own in a table's history
COUNTED = {"bronze": "bronze_leads", "silver": "silver_leads", "quarantined": "quarantine", "duplicates": "duplicates"}
COUNT_NAMES = ("files", "rows_read", "bronze", "silver", "quarantined", "duplicates", "repaired")


def run_counts(spark: SparkSession, config: Config, query_id: str, batches: range) -> dict[str, int]:
    """What this run's batches wrote, a replayed one included.

    Read from their commits (each tagged with its batch; Delta's operation metrics count the rows, bronze's tag
    records files and repairs), which history gives without reading a row, where counting the rows the batches
    stamped scans four tables. The rows are counted only when history cannot
    show every commit of the run: other writers' commits in between, or a commit written without its figures.
    """
    if not batches:
        return dict.fromkeys(COUNT_NAMES, 0)
    return _counts_from_commits(spark, config, query_id, batches) or _counts_from_rows(
        spark, config, query_id, batches.start
    )


def _run_commits(history: list[Row], query_id: str, batches: range) -> dict[int, Row]:
    """The commits of `history` tagged with one of this run's batches, by batch id."""
    found = {}
    for commit in history:
        tag = commit_tags.parsed(commit["userMetadata"], commit["operation"])
        if tag is not None and tag["query_id"] == query_id and tag["batch_id"] in batches:
            found[tag["batch_id"]] = commit
    return found


def _counts_from_commits(spark: SparkSession, config: Config, query_id: str, batches: range) -> dict[str, int] | None:
    """The run's counts from its commits, or None unless history shows them all.

    Every batch of new files commits to bronze (Delta records no commit for an empty append, so a batch whose files
    bronze already held has none: then the rows are counted). The other tables get a commit only from a batch with
    rows for them, beside its bronze commit (the appends run at once, in any order): theirs are all shown once the
    history read reaches past the run's earliest commit found in any table, or holds all there is.
    """
    limit = len(batches) + OTHER_COMMITS
    histories: dict[str, list[Row]] = {}
    commits: dict[str, dict[int, Row]] = {}
    for name, logical in COUNTED.items():  # bronze first: without all its commits, the others are not read
        histories[name] = config.table(logical).history(spark, limit).collect()
        commits[name] = _run_commits(histories[name], query_id, batches)
        if name == "bronze" and set(commits[name]) != set(batches):
            return None
    run_start = min(commit["timestamp"] for found in commits.values() for commit in found.values())
    for name in ("silver", "quarantined", "duplicates"):
        history = histories[name]
        if len(history) == limit and history[-1]["timestamp"] >= run_start:
            return None
    written = [commit for found in commits.values() for commit in found.values()]
    records = [
        commit_tags.parsed(commit["userMetadata"], commit["operation"]).get(BRONZE_RECORD)
        for commit in commits["bronze"].values()
    ]
    if any("numOutputRows" not in (commit["operationMetrics"] or {}) for commit in written) or None in records:
        return None
    rows = {
        name: sum(int(c["operationMetrics"]["numOutputRows"]) for c in found.values())
        for name, found in commits.items()
    }
    return {
        "files": sum(record["files"] for record in records),
        "rows_read": rows["bronze"],
        **rows,
        "repaired": sum(record["repaired"] for record in records),
    }


def _counts_from_rows(spark: SparkSession, config: Config, query_id: str, first_batch: int) -> dict[str, int]:
    """The run's counts from the rows its batches stamped, from `first_batch` on."""

    def written(logical: str) -> DataFrame:
        return (
            config.table(logical)
            .read(spark)
            .where((F.col("_ingest_query_id") == query_id) & (F.col("_ingest_batch_id") >= first_batch))
        )

    files, rows, repaired = (
        written("bronze_leads").agg(F.count_distinct("_source_file"), F.count(F.lit(1)), F.count("_repair")).first()
    )
    return {
        "files": files,
        "rows_read": rows,
        "bronze": rows,
        **{name: written(logical).count() for name, logical in COUNTED.items() if name != "bronze"},
        "repaired": repaired,
    }
