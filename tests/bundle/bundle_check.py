"""Offline checks of the asset bundle (databricks.yml + resources/): what `databricks bundle validate` would reject,
short of calling a workspace. `make validate` runs this file; tests/bundle/test_bundle.py runs the same functions.

Jobs are checked against the job model of `databricks-bundles`, generated from the Databricks CLI's own bundle
schema and pinned in requirements.lock to the same version as the CLI in the Makefile: unknown keys, wrong types,
unknown enum values and missing required keys are errors. The rest of the bundle (targets, variables, references,
artifacts, permissions) is checked here. With `--schema FILE` (the output of `databricks bundle schema`) every file
is also validated against the CLI's JSON schema. Apps: their source folder holds app.yaml and requirements.txt, and
app.yaml takes values only from resources the App declares.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml
from databricks.bundles.jobs import Job
from jsonschema.exceptions import ValidationError
from jsonschema.validators import validator_for

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"\$\{([^}]+)\}")
# What the checks below know how to read; anything else is reported rather than passed unchecked.
ROOT_KEYS = {"bundle", "include", "artifacts", "variables", "targets", "resources", "permissions"}
TARGET_KEYS = {"mode", "default", "workspace", "permissions", "variables", "run_as"}
BUNDLE_REFERENCES = {"name", "target", "git.origin_url", "git.branch", "git.commit"}
PERMISSION_LEVELS = {"CAN_VIEW", "CAN_RUN", "CAN_MANAGE"}
PRINCIPALS = ("user_name", "group_name", "service_principal_name")


@dataclass(frozen=True)
class Bundle:
    root: Path
    config: dict  # databricks.yml
    resource_files: dict[Path, dict]  # each included file

    def documents(self) -> dict[Path, dict]:
        return {self.root / "databricks.yml": self.config, **self.resource_files}

    def apps(self) -> dict[str, tuple[Path, dict]]:
        """App key -> (file it is declared in, its definition)."""
        return {
            key: (path, app)
            for path, doc in self.documents().items()
            for key, app in (doc.get("resources") or {}).get("apps", {}).items()
        }

    def jobs(self) -> dict[str, tuple[Path, dict]]:
        """Job key -> (file it is declared in, its definition)."""
        return {
            key: (path, job)
            for path, doc in self.documents().items()
            for key, job in (doc.get("resources") or {}).get("jobs", {}).items()
        }


def load(root: Path = ROOT) -> Bundle:
    config = _read(root / "databricks.yml")
    files = sorted({path for pattern in config.get("include", []) for path in root.glob(pattern)})
    return Bundle(root, config, {path: _read(path) for path in files})


def _read(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def variable_values(config: dict, target: str) -> dict[str, Any]:
    """Each declared variable's value in `target` (None when neither a default nor the target gives one)."""
    declared = config.get("variables") or {}
    overrides = (config["targets"][target] or {}).get("variables") or {}
    values = {}
    for name, spec in declared.items():
        value = overrides.get(name, (spec or {}).get("default"))
        if (spec or {}).get("type") == "complex":  # the value is the mapping itself
            values[name] = value
        else:
            values[name] = value.get("default", value.get("lookup")) if isinstance(value, dict) else value
    return values


def resolve(text: str, values: dict[str, str]) -> str:
    """Substitutes ${...} references by `values` (keys like "var.catalog", "bundle.target") until none is left."""
    for _ in range(10):
        resolved = REFERENCE.sub(lambda m: str(values[m.group(1)]), text)
        if resolved == text:
            return resolved
        text = resolved
    raise ValueError(f"references nest too deep: {text}")


def references(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set().union(*(references(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(references(v) for v in node)) if node else set()
    return set(REFERENCE.findall(node)) if isinstance(node, str) else set()


def check_structure(bundle: Bundle) -> list[str]:
    config, errors = bundle.config, []
    errors += [f"databricks.yml: unknown top-level key {key!r}" for key in config.keys() - ROOT_KEYS]
    if not (config.get("bundle") or {}).get("name"):
        errors.append("databricks.yml: bundle.name is missing")
    for path, doc in bundle.resource_files.items():
        errors += [
            f"{path.name}: an included file holds only `resources`, not {key!r}" for key in doc.keys() - {"resources"}
        ]
    declared = [key for doc in bundle.documents().values() for key in (doc.get("resources") or {}).get("jobs", {})]
    errors += [
        f"jobs.{key}: declared in more than one file" for key in sorted(set(declared)) if declared.count(key) > 1
    ]
    errors += _check_permissions("permissions", config.get("permissions") or [])
    targets = config.get("targets") or {}
    defaults = [name for name, target in targets.items() if (target or {}).get("default")]
    if len(defaults) != 1:
        errors.append(f"databricks.yml: exactly one target must be `default: true`, found {defaults}")
    for name, target in targets.items():
        target = target or {}
        errors += [f"targets.{name}: key {key!r} is not checked here" for key in target.keys() - TARGET_KEYS]
        if target.get("mode") not in ("development", "production"):
            errors.append(f"targets.{name}: mode must be development or production")
        if target.get("mode") == "production":
            if not (target.get("workspace") or {}).get("root_path"):
                errors.append(f"targets.{name}: production mode needs workspace.root_path")
            if not target.get("permissions"):
                errors.append(f"targets.{name}: production mode needs permissions")
        errors += _check_permissions(f"targets.{name}.permissions", target.get("permissions") or [])
    for name, artifact in (config.get("artifacts") or {}).items():
        if artifact.get("type") != "whl" or not artifact.get("build") or not artifact.get("path"):
            errors.append(f"artifacts.{name}: expected type whl with a build command and a path")
    return errors


def _check_permissions(where: str, permissions: list[dict]) -> list[str]:
    errors = []
    for i, permission in enumerate(permissions):
        if permission.get("level") not in PERMISSION_LEVELS:
            errors.append(f"{where}[{i}]: level must be one of {sorted(PERMISSION_LEVELS)}")
        if sum(key in permission for key in PRINCIPALS) != 1:
            errors.append(f"{where}[{i}]: name exactly one of {', '.join(PRINCIPALS)}")
    return errors


def check_jobs(bundle: Bundle) -> list[str]:
    package = tomllib.loads((bundle.root / "pyproject.toml").read_text())["project"]
    dist = {(bundle.root / a["path"] / "dist").resolve() for a in (bundle.config.get("artifacts") or {}).values()}
    errors = []
    for key, (path, job) in bundle.jobs().items():
        where = f"{path.name}: jobs.{key}"
        try:
            Job.from_dict(job)
        except (ValueError, TypeError) as error:
            errors.append(f"{where}: {error}")
            continue
        environments = {e["environment_key"]: e.get("spec") or {} for e in job.get("environments", [])}
        clusters = {c["job_cluster_key"] for c in job.get("job_clusters", [])}
        for task in job["tasks"]:
            at = f"{where}.tasks.{task['task_key']}"
            compute = [k for k in ("environment_key", "job_cluster_key", "existing_cluster_id") if k in task]
            if len(compute) != 1:
                errors.append(f"{at}: name exactly one of environment_key, job_cluster_key, existing_cluster_id")
            if "environment_key" in task and task["environment_key"] not in environments:
                errors.append(f"{at}: environment {task['environment_key']!r} is not declared by the job")
            if "job_cluster_key" in task and task["job_cluster_key"] not in clusters:
                errors.append(f"{at}: job cluster {task['job_cluster_key']!r} is not declared by the job")
            wheel_task = task.get("python_wheel_task")
            if wheel_task:
                if wheel_task["package_name"] != package["name"]:
                    errors.append(f"{at}: package_name {wheel_task['package_name']!r} is not {package['name']!r}")
                if wheel_task["entry_point"] not in package.get("scripts", {}):
                    errors.append(f"{at}: entry point {wheel_task['entry_point']!r} is not in [project.scripts]")
            wheels = [lib["whl"] for lib in task.get("libraries", []) if "whl" in lib]
            wheels += environments.get(task.get("environment_key"), {}).get("dependencies", [])
            for wheel in (w for w in wheels if w.endswith(".whl")):
                if (path.parent / wheel).parent.resolve() not in dist:
                    errors.append(f"{at}: {wheel} is not in the dist/ folder of a bundle artifact")
    return errors


def check_apps(bundle: Bundle) -> list[str]:
    """Each App's source folder holds app.yaml and requirements.txt, and every `valueFrom` in app.yaml names one of
    the App's resources (what the App runtime would refuse at start, long after a deploy)."""
    errors = []
    for key, (path, app) in bundle.apps().items():
        where = f"{path.name}: apps.{key}"
        source = (path.parent / app.get("source_code_path", "")).resolve()
        missing = [name for name in ("app.yaml", "requirements.txt") if not (source / name).is_file()]
        if missing:
            errors.append(f"{where}: source_code_path {source} has no {', '.join(missing)}")
            continue
        declared = {resource["name"] for resource in app.get("resources", [])}
        runtime = _read(source / "app.yaml")
        if not runtime.get("command"):
            errors.append(f"{where}: app.yaml has no command")
        for variable in runtime.get("env", []):
            if "valueFrom" in variable and variable["valueFrom"] not in declared:
                errors.append(f"{where}: app.yaml env {variable['name']} takes valueFrom {variable['valueFrom']!r}, "
                              f"not one of the App's resources {sorted(declared)}")  # fmt: skip
    return errors


def check_references(bundle: Bundle) -> list[str]:
    config, errors = bundle.config, []
    declared = config.get("variables") or {}
    used = references(list(bundle.documents().values()))
    for name in sorted(declared):
        if not (declared[name] or {}).get("description"):
            errors.append(f"variables.{name}: add a description")
        if f"var.{name}" not in used:
            errors.append(f"variables.{name}: declared but never used")
    for ref in sorted(used):
        root, _, rest = ref.partition(".")
        if root == "var" and rest not in declared:
            errors.append(f"${{{ref}}}: variable {rest!r} is not declared")
        elif root == "bundle" and rest not in BUNDLE_REFERENCES:
            errors.append(f"${{{ref}}}: not one of {sorted(BUNDLE_REFERENCES)}")
        elif root not in ("var", "bundle", "workspace", "resources", "artifacts"):
            errors.append(f"${{{ref}}}: unknown reference")
    for target in config.get("targets") or {}:
        overrides = (config["targets"][target] or {}).get("variables") or {}
        errors += [
            f"targets.{target}.variables: {name!r} is not declared" for name in overrides.keys() - declared.keys()
        ]
        values = variable_values(config, target)
        errors += [f"targets.{target}: variable {name!r} has no value" for name, v in values.items() if v is None]
    return errors


def check_schema(bundle: Bundle, schema: dict) -> list[str]:
    """Every file against the JSON schema that `databricks bundle schema` prints."""
    validator = validator_for(schema)(schema)
    return [
        f"{path.name}: {'.'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for path, doc in bundle.documents().items()
        for error in map(_deepest, validator.iter_errors(doc))
    ]


def _deepest(error: ValidationError) -> ValidationError:
    """The schema's `oneOf` (a value or a ${var} reference) hides the real mistake one level down: name that one."""
    if not error.context:
        return error
    return _deepest(max(error.context, key=lambda candidate: len(_deepest(candidate).absolute_path)))


def errors(root: Path = ROOT, schema: dict | None = None) -> list[str]:
    bundle = load(root)
    found = check_structure(bundle) + check_references(bundle) + check_jobs(bundle) + check_apps(bundle)
    return found + (check_schema(bundle, schema) if schema is not None else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", type=Path, help="JSON schema from `databricks bundle schema`")
    args = parser.parse_args(argv)
    found = errors(ROOT, json.loads(args.schema.read_text()) if args.schema else None)
    for error in found:
        print(f"bundle: {error}", file=sys.stderr)
    if found:
        return 1
    bundle = load(ROOT)
    against = f"the JSON schema in {args.schema}" if args.schema else "no CLI schema"
    print(
        f"bundle ok: targets {', '.join(bundle.config['targets'])}; jobs {', '.join(sorted(bundle.jobs()))}; "
        f"apps {', '.join(sorted(bundle.apps()))}; job model databricks-bundles {version('databricks-bundles')}; "
        f"{against}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
