"""The landing folder: where lead exports arrive, read as a stream of whole files (each taken once)."""

from __future__ import annotations

from pathlib import Path

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from leadscore.errors import LeadscoreError

LANDING_MAX_FILE_AGE = "36500d"  # a century: no landed file is too old to be taken
# What Spark's binaryFile source gives for each file.
BINARY_FILE_SCHEMA = T.StructType(
    [
        T.StructField("path", T.StringType()),
        T.StructField("modificationTime", T.TimestampType()),
        T.StructField("length", T.LongType()),
        T.StructField("content", T.BinaryType()),
    ]
)


def check_landing(spark: SparkSession, source: str) -> None:
    """A missing landing path is an error, not an empty run; so is an empty export, which Spark's file sources
    would skip without a word."""
    if "://" in source:
        try:
            spark.read.format("binaryFile").load(source).select("path").limit(1).collect()
        except AnalysisException as error:
            if error.getCondition() == "PATH_NOT_FOUND":
                raise LeadscoreError(f"source not found: {source}") from None
            raise
        return
    path = Path(source)
    if not path.exists():
        raise LeadscoreError(f"source not found: {source}")
    for file in [path] if path.is_file() else sorted(path.glob("*.csv")):
        if file.stat().st_size == 0:
            raise LeadscoreError(f"file {file} is empty")


def normalised_source(source: str) -> str:
    """One spelling per landing source: a local path made absolute, any trailing slash dropped, so
    `./lakehouse/landing/` and `/abs/lakehouse/landing` are the same stream with the same checkpoint."""
    if "://" in source:
        return source.rstrip("/")
    return str(Path(source).absolute()).rstrip("/") if source.rstrip("/") else "/"


def landing_folder(source: str) -> tuple[str, str]:
    """(folder, file name glob) of a landing folder or one CSV file."""
    if source.endswith(".csv"):
        folder, _, name = source.rpartition("/")
        return folder, name
    return source.rstrip("/"), "*.csv"


def read_landing(spark: SparkSession, source: str, max_files_per_trigger: int | None) -> DataFrame:
    """The landing folder (or one file) as a stream of whole files; each file is taken once, as Auto Loader does."""
    folder, glob = landing_folder(source)
    # maxFileAge: a file landed late (older than the newest one seen by more than Spark's default week) is still
    # taken; the price is that the stream's list of seen files is never purged.
    reader = (
        spark.readStream.format("binaryFile")
        .schema(BINARY_FILE_SCHEMA)
        .option("pathGlobFilter", glob)
        .option("maxFileAge", LANDING_MAX_FILE_AGE)
    )
    if max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", max_files_per_trigger)
    return reader.load(folder)
