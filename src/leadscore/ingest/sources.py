"""Where the ingest query reads leads: a landing folder of CSV exports, or a Kafka topic. Both give bronze rows of the
same columns, so everything after the parse (silver, quarantine, duplicates, scoring) is one code path."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession

from leadscore.config import Config, SourceSettings
from leadscore.errors import LeadscoreError
from leadscore.ingest import bronze, landing, messages
from leadscore.spark import on_databricks


class LandingFiles:
    """A landing folder (or one CSV file), each file taken once."""

    # A fresh checkpoint lists the folder's files again: bronze is asked which it holds (query.EarlierLandings).
    may_repeat_landed = True
    has_files = True

    def __init__(self, path: str):
        self.path = landing.normalised_source(path)

    def __str__(self) -> str:
        return self.path

    @property
    def key(self) -> str:
        return self.path

    def bronze_rows(self, spark: SparkSession, config: Config) -> DataFrame:
        landing.check_landing(spark, self.path)
        encoding = config.ingest.encoding
        bronze.legacy_charsets(spark, encoding)
        files = landing.read_landing(spark, self.path, config.ingest.max_files_per_trigger)
        return bronze.to_bronze(files, encoding)


def secret(scope: str, key: str) -> str:
    """A Databricks secret, read at run time with databricks-sdk."""
    from databricks.sdk import WorkspaceClient  # on Databricks only: a local run never names a secret scope

    return WorkspaceClient().dbutils.secrets.get(scope=scope, key=key)


class KafkaTopic:
    """A Kafka topic; the query's checkpoint holds its offsets, so each message is taken once."""

    # A fresh checkpoint starts at `starting_offsets`: its messages are read as new, not looked for in bronze.
    may_repeat_landed = False
    has_files = False

    def __init__(self, settings: SourceSettings, read_secret: Callable[[str, str], str] = secret):
        self.settings = settings
        self.read_secret = read_secret

    def __str__(self) -> str:
        return f"kafka topic {self.settings.topic} at {self.settings.bootstrap_servers}"

    @property
    def key(self) -> str:
        return f"kafka://{self.settings.bootstrap_servers}/{self.settings.topic}"

    def options(self) -> dict[str, str]:
        """The Kafka source's options; with a secret scope, SASL over TLS with the credentials read from it."""
        options = messages.topic_options(self.settings)
        scope = self.settings.secret_scope
        if scope:
            username, password = (self.read_secret(scope, key) for key in ("username", "password"))
            options |= messages.sasl_options(self.settings.sasl_mechanism, username, password, shaded=on_databricks())
        return options

    def bronze_rows(self, spark: SparkSession, config: Config) -> DataFrame:
        return messages.to_bronze(messages.read_topic(spark, self.options()))


Source = LandingFiles | KafkaTopic


def source_of(source: str | Source | None, config: Config) -> Source | None:
    """A landing path as a `LandingFiles`; without one, conf's Kafka topic when `source.kind` is kafka."""
    if isinstance(source, str):
        return LandingFiles(source)
    if source is None and config.source.kind == "kafka":
        return KafkaTopic(config.source)
    return source


def required(source: str | Source | None, config: Config) -> Source:
    found = source_of(source, config)
    if found is None:
        raise LeadscoreError("nothing to ingest: give --source (a landing folder) or --kafka-bootstrap and --topic")
    return found
