"""One typed configuration: conf/common.yml, then conf/<env>.yml, then CLI overrides."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from leadscore.errors import LeadscoreError
from leadscore.schema import BY_NAME
from leadscore.tables import Table, table_ref

ENVIRONMENTS = ("local", "dev", "prod")
# Test metrics a challenger may be compared with the champion on (higher is better for each).
PROMOTION_METRICS = ("auc_roc", "pr_auc", "accuracy")
SQLITE = "sqlite:///"


def default_conf_dir() -> Path:
    """LEADSCORE_CONF_DIR if set; else the copy packed into the wheel (a Databricks job has no checkout); else conf/."""
    env = os.environ.get("LEADSCORE_CONF_DIR")
    if env:
        return Path(env)
    packaged = Path(__file__).resolve().parent / "conf"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "conf"


@dataclass(frozen=True)
class SparkSettings:
    master: str
    shuffle_partitions: int
    driver_memory: str
    ui: bool


@dataclass(frozen=True)
class StreamSettings:
    trigger_seconds: float
    merge_every_seconds: float
    max_files_per_trigger: int
    champion_check_seconds: float
    shadow_challenger: bool
    driver_memory: str


@dataclass(frozen=True)
class IngestSettings:
    encoding: str
    max_files_per_trigger: int


@dataclass(frozen=True)
class SourceSettings:
    kind: str
    bootstrap_servers: str | None
    topic: str | None
    starting_offsets: str
    max_offsets_per_trigger: int | None
    secret_scope: str | None
    sasl_mechanism: str


SOURCE_KINDS = ("files", "kafka")


@dataclass(frozen=True)
class ModelSettings:
    name: str
    feature_set: str
    seed: int
    split: dict[str, int]
    priority: dict[str, float]
    tune: bool
    promotion: dict[str, Any]
    driver_memory: str
    partitions: int


@dataclass(frozen=True)
class MlflowSettings:
    tracking_uri: str
    registry_uri: str
    artifact_location: str | None
    experiment: str
    dfs_tmpdir: str | None

    @property
    def unity_catalog(self) -> bool:
        return self.registry_uri.startswith("databricks-uc")


@dataclass(frozen=True)
class MonitorSettings:
    window_hours: float
    min_leads: int
    bins: int
    max_categories: int
    thresholds: dict[str, float]


@dataclass(frozen=True)
class ConsoleSettings:
    reader: str
    refresh_seconds: float
    queue_size: int


THRESHOLDS = ("psi", "score_psi", "null_share_change", "quarantine_rate")
READERS = ("deltalake", "warehouse")


@dataclass(frozen=True)
class Config:
    env: str
    storage: str
    lakehouse: str
    catalog: str | None
    schema: str | None
    checkpoints: str
    landing: str
    spark: SparkSettings
    stream: StreamSettings
    ingest: IngestSettings
    source: SourceSettings
    model: ModelSettings
    mlflow: MlflowSettings
    feature_sets: dict[str, tuple[str, ...]]
    monitor: MonitorSettings
    console: ConsoleSettings

    def table(self, logical: str) -> Table:
        return table_ref(logical, self.storage, self.lakehouse, self.catalog, self.schema)

    @property
    def stream_spark(self) -> SparkSettings:
        """The session settings of a `leadscore stream` process: the jobs' own, with the stream's heap."""
        return replace(self.spark, driver_memory=self.stream.driver_memory)

    @property
    def train_spark(self) -> SparkSettings:
        """The session settings of a `leadscore train` or `retrain` process: the jobs' own, with training's heap."""
        return replace(self.spark, driver_memory=self.model.driver_memory)

    def checkpoint(self, stream: str) -> str:
        return f"{self.checkpoints.rstrip('/')}/{stream}"

    @property
    def features(self) -> tuple[str, ...]:
        return self.feature_sets[self.model.feature_set]


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise LeadscoreError(f"config file not found: {path}")
    return yaml.safe_load(path.read_text()) or {}


def _set_dotted(tree: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        tree = tree.setdefault(key, {})
    tree[leaf] = value


def load_config(
    env: str = "local", conf_dir: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> Config:
    """Overrides are dotted keys (``{"lakehouse": "/tmp/lh", "stream.trigger_seconds": 0.5}``); None means unset."""
    if env not in ENVIRONMENTS:
        raise LeadscoreError(f"unknown environment {env!r}: expected one of {', '.join(ENVIRONMENTS)}")
    folder = Path(conf_dir) if conf_dir else default_conf_dir()
    raw = _merge(_read_yaml(folder / "common.yml"), _read_yaml(folder / f"{env}.yml"))
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(raw, key, value)

    storage = raw["storage"]
    if storage not in ("path", "catalog"):
        raise LeadscoreError(f"storage must be 'path' or 'catalog', not {storage!r}")
    if storage == "catalog" and not (raw.get("catalog") and raw.get("schema")):
        raise LeadscoreError("storage 'catalog' needs both catalog and schema")
    lakehouse = str(raw["lakehouse"])
    if storage == "path":
        lakehouse = str(Path(lakehouse).expanduser().resolve())

    feature_sets = {name: tuple(cols) for name, cols in raw["feature_sets"].items()}
    for name, cols in feature_sets.items():
        unknown = [c for c in cols if c not in BY_NAME]
        if unknown:
            raise LeadscoreError(f"feature set {name!r} names unknown silver columns: {', '.join(unknown)}")
    model = ModelSettings(**raw["model"])
    if model.feature_set not in feature_sets:
        raise LeadscoreError(f"unknown feature set {model.feature_set!r}: expected one of {', '.join(feature_sets)}")
    if sum(model.split.values()) != 100 or set(model.split) != {"train", "validation", "test"}:
        raise LeadscoreError(f"model.split must give train/validation/test percentages summing to 100: {model.split}")
    if model.promotion.get("metric") not in PROMOTION_METRICS:
        raise LeadscoreError(f"model.promotion.metric must be one of {', '.join(PROMOTION_METRICS)}")
    tracking = raw["mlflow"]
    tracking_uri = str(tracking.get("tracking_uri") or f"{SQLITE}{lakehouse}/mlflow.db")
    # A SQLite store keeps artifacts in mlruns/ beside it; a tracking server decides for itself.
    beside_store = (
        f"{Path(tracking_uri.removeprefix(SQLITE)).parent}/mlruns" if tracking_uri.startswith(SQLITE) else None
    )

    monitor = MonitorSettings(**raw["monitor"])
    if set(monitor.thresholds) != set(THRESHOLDS) or any(v <= 0 for v in monitor.thresholds.values()):
        raise LeadscoreError(f"monitor.thresholds must give positive {', '.join(THRESHOLDS)}: {monitor.thresholds}")
    if monitor.bins < 2 or monitor.max_categories < 1 or monitor.window_hours <= 0:
        raise LeadscoreError("monitor needs bins >= 2, max_categories >= 1 and window_hours > 0")
    source = SourceSettings(**raw["source"])
    if source.kind not in SOURCE_KINDS:
        raise LeadscoreError(f"source.kind must be one of {', '.join(SOURCE_KINDS)}, not {source.kind!r}")
    if source.kind == "kafka" and not (source.bootstrap_servers and source.topic):
        raise LeadscoreError("source.kind kafka needs bootstrap_servers and topic (--kafka-bootstrap, --topic)")
    console = ConsoleSettings(**raw["console"])
    if console.reader not in READERS:
        raise LeadscoreError(f"console.reader must be one of {', '.join(READERS)}, not {console.reader!r}")

    return Config(
        env=env,
        storage=storage,
        lakehouse=lakehouse,
        catalog=raw.get("catalog"),
        schema=raw.get("schema"),
        checkpoints=str(raw.get("checkpoints") or f"{lakehouse}/_checkpoints"),
        landing=str(raw.get("landing") or f"{lakehouse}/landing"),
        spark=SparkSettings(**raw["spark"]),
        stream=StreamSettings(**raw["stream"]),
        ingest=IngestSettings(**raw["ingest"]),
        source=source,
        model=model,
        mlflow=MlflowSettings(
            tracking_uri=tracking_uri,
            registry_uri=str(tracking.get("registry_uri") or tracking_uri),
            artifact_location=tracking.get("artifact_location") or beside_store,
            experiment=str(tracking["experiment"]),
            dfs_tmpdir=tracking.get("dfs_tmpdir"),
        ),
        feature_sets=feature_sets,
        monitor=monitor,
        console=console,
    )


# Flags that override conf/<env>.yml; the same on the CLI, under spark-submit and in bundle jobs.
CONFIG_FLAGS: dict[str, dict] = {
    "--env": {"choices": ENVIRONMENTS, "default": "local", "help": "conf/<env>.yml to load (default: local)"},
    "--conf-dir": {"help": "folder holding common.yml and <env>.yml (default: the project's conf/)"},
    "--lakehouse": {"help": "base folder of path-based tables (default: ./lakehouse)"},
    "--catalog": {"help": "Unity Catalog catalog (storage: catalog)"},
    "--schema": {"help": "Unity Catalog schema (storage: catalog)"},
    "--checkpoints": {"help": "base folder of stream checkpoints"},
    "--tracking-uri": {
        "help": "MLflow tracking store (default: sqlite:///<lakehouse>/mlflow.db; conf mlflow.tracking_uri)"
    },
}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("configuration")
    for flag, options in CONFIG_FLAGS.items():
        group.add_argument(flag, **options)


def config_argv(args: argparse.Namespace) -> list[str]:
    """The configuration flags `args` was given, as argv: another command run with them reads the same config."""
    given = [(flag, getattr(args, flag[2:].replace("-", "_"), None)) for flag in CONFIG_FLAGS]
    return [part for flag, value in given if value is not None for part in (flag, str(value))]


def config_from(args: argparse.Namespace) -> Config:
    overrides = {key: getattr(args, key, None) for key in ("lakehouse", "catalog", "schema", "checkpoints")}
    overrides["mlflow.tracking_uri"] = getattr(args, "tracking_uri", None)
    overrides.update(getattr(args, "config_overrides", lambda _: {})(args))
    return load_config(args.env, args.conf_dir, overrides)
