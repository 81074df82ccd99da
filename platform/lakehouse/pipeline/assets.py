"""The one factory: a TableSpec becomes a partitioned asset with its blocking checks.

Bronze parses landing files on Spark's executors; silver and gold run their SQL on Spark, split rows
by the spec's rules, and evaluate the pandera contract *before* returning, so a refused batch never reaches
the IO manager (write-audit-publish): the published table keeps its previous version and, because the
step fails, downstream assets do not run.
"""
# No `from __future__ import annotations` here: Dagster reads the `context` annotation of the asset function
# at definition time and refuses it as a string.

from datetime import datetime, timezone

import pyarrow as pa
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetsDefinition,
    AssetOut,
    Backoff,
    BackfillPolicy,
    Failure,
    MetadataValue,
    Output,
    RetryPolicy,
    TableColumn,
    TableSchema,
    multi_asset,
)
from pyspark.sql.pandas.types import from_arrow_schema

from lakehouse.engine.overlap import alongside
from lakehouse.engine.spark import SparkResource
from lakehouse.errors import LakehouseError
from lakehouse.ingest.executors import parse_landing
from lakehouse.ingest.landing import LandingZone
from lakehouse.ingest.staging import Staging
from lakehouse.model.keys import LANDED_BY_SENSOR
from lakehouse.model.partitions import batch_days, partitions_def, upstream_partitions
from lakehouse.model.spec import TableSpec
from lakehouse.pipeline import quality_step
from lakehouse.pipeline.conditions import condition_for
from lakehouse.pipeline.io_manager import share_seconds
from lakehouse.pipeline.model_step import (check_rows, contract_counts, key_duplicates, keyed, model_frame,
                                           required_columns)
from lakehouse.pipeline.readiness import (NOTHING_LANDED, describe_missing, missing_upstreams, nothing_landed,
                                          published_empty, span)
from lakehouse.pipeline.registry import dependencies, get_spec, landing_sources, steps_to_gold
from lakehouse.quality.contracts import evaluate_contract
from lakehouse.quality.metrics import bronze_metrics, metadata_of, model_metrics
from lakehouse.resources import LakehouseResource
from lakehouse.storage.filesystem import spark_path
from lakehouse.storage.table_metadata import reusing_tables
from lakehouse.timing import Stopwatch

# Transient storage errors (throttling, a dropped connection) get two more tries; errors a person must
# fix are raised as Failure(allow_retries=False) and fail at once.
RETRY = RetryPolicy(max_retries=2, delay=2, backoff=Backoff.EXPONENTIAL)


def asset_key(spec: TableSpec) -> AssetKey:
    return AssetKey(spec.asset_key_path)


def _tags(spec: TableSpec) -> dict[str, str]:
    tags = {"layer": spec.layer, "domain": spec.domain, "pii": "true" if spec.pii else "false"}
    tags.update(spec.tags)
    return tags


def _definition_metadata(spec: TableSpec) -> dict:
    meta: dict = {"table": spec.id, "format": spec.format or "configured default (delta)"}
    if spec.columns:
        meta["dagster/column_schema"] = TableSchema(
            columns=[TableColumn(c.name, c.type, description=c.description or None) for c in spec.columns]
        )
    if spec.pii:
        meta["pii_columns"] = MetadataValue.json(list(spec.pii))
    if spec.extract is not None:
        meta["source"] = str(spec.extract)
    if spec.landing:
        meta["landing"] = f"{spec.landing.prefix}/dt=YYYY-MM-DD/*.{spec.landing.format}[.gz]"
    if any(u.needs == "optional" for u in spec.upstreams):
        meta["optional_upstreams"] = MetadataValue.json([u.table for u in spec.upstreams if u.needs == "optional"])
    if spec.rules:
        meta["row_rules"] = MetadataValue.json([f"{r.name} [{r.severity}]: {r.expr}" for r in spec.rules])
    return meta


def _anomaly_spec(spec: TableSpec) -> AssetCheckSpec:
    judged = {m: level for m, level in spec.anomaly_levels.items() if level != "off"}
    baseline = "the 8 months before" if spec.partitioning == "monthly" else "the same weekday of the 8 weeks before"
    return AssetCheckSpec("anomaly", asset=asset_key(spec), blocking="block" in judged.values(),
                          description=f"Each partition's metrics against {baseline} (median +/- 3 MADs; "
                          f"docs/quality.md): {', '.join(f'{m} {v}' for m, v in judged.items())}.")


def _check_specs(spec: TableSpec) -> list[AssetCheckSpec]:
    key = asset_key(spec)
    if spec.layer == "bronze" and spec.extract is not None:
        return [AssetCheckSpec("source_count_matches", asset=key, blocking=True,
                               description="Rows written equal the source's count for the day (same snapshot).")]
    if spec.layer == "bronze":
        readable = AssetCheckSpec("landing_files_readable", asset=key,
                                  description="Every landing file of the day could be opened and decoded.")
        return [readable, _anomaly_spec(spec)] if spec.landing is not None else [readable]
    return [
        AssetCheckSpec("row_rules", asset=key, blocking=True,
                       description="Row rules: drop rules quarantine rows, fail rules refuse the batch."),
        AssetCheckSpec("contract", asset=key, blocking=True,
                       description="The pandera contract, evaluated before the batch is published."),
        _anomaly_spec(spec),
        AssetCheckSpec("rerun_diff", asset=key, description="What a re-run changes in partitions that held data; "
                       "warns when a closed day changes by more than LAKEHOUSE_CLOSED_DAY_CHANGE_SHARE."),
    ]


def _report_days(context: AssetExecutionContext, keys: list[str], by_day: dict[str, dict],
                 metrics: dict[str, dict] | None = None) -> None:
    """Each partition's own numbers on its own materialization (a backfill's batch totals stay on the
    step's checks): rows in / published / quarantined, rule violations, null rates of required columns, and
    the metrics recorded in ops.partition_metrics (null fractions, min/max, sums of measures, distinct keys)."""
    for key in keys:
        day = by_day.get(key) or {"rows_in": 0, "rows_published": 0, "rows_quarantined": 0}
        context.add_asset_metadata({**day, **metadata_of((metrics or {}).get(key, {})),
                                    "dagster/row_count": day["rows_published"]}, partition_key=key)


def _record_waiting(context: AssetExecutionContext, spec: TableSpec, why: dict[str, tuple[str, str]]) -> None:
    """Each partition a run left unbuilt says why on itself, {key: (status, detail)}; the UI lists it with the
    partition's events. NOTHING_LANDED is a day waiting for its files, not a failure."""
    for key, (status, detail) in why.items():
        context.log_event(AssetObservation(asset_key=asset_key(spec), partition=key, description=f"{key}: {status}",
                                           metadata={"status": status, "detail": detail}))


def _waiting_reasons(spec: TableSpec, missing: dict[str, list[str]], settings) -> dict[str, tuple[str, str]]:
    """{key: (status, detail)}: NOTHING_LANDED when no landing source of the table has a file for the day."""
    sources = landing_sources(spec.id)
    idle = set(nothing_landed(spec, list(missing), LandingZone(settings).landed_days(sources)))
    looked = f"no file under {settings.landing} in {', '.join(sources)}"
    return {key: (NOTHING_LANDED, looked) if key in idle else ("waiting for its upstream", describe_missing({key: lacks}))
            for key, lacks in missing.items()}


def _wait_for_upstream(context: AssetExecutionContext, spec: TableSpec, keys: list[str],
                       missing: dict[str, list[str]], settings) -> None:
    """Each partition left unbuilt records why. A batch none of whose days is ready is skipped; one with some
    ready fails: a batch is one commit, which never publishes the ready days with the others read as empty."""
    why = _waiting_reasons(spec, missing, settings)
    _record_waiting(context, spec, why)
    idle = [key for key, (status, _) in why.items() if status == NOTHING_LANDED]
    note = f" ({NOTHING_LANDED}: {', '.join(idle) if len(idle) <= 3 else span(idle)})" if idle else ""
    # a landed backlog's run skips instead: its ready days are automation's to build once this step is done
    if len(missing) < len(keys) and LANDED_BY_SENSOR not in context.run.tags:
        raise Failure(description=f"{spec.id}: {describe_missing(missing)}{note}; nothing was published. "
                      "Materialize those days once their upstream is there, or the other days on their own.",
                      allow_retries=False)
    context.log.warning(f"{spec.id} {span(keys)}: skipped, nothing published{note}: {describe_missing(missing)}")


def _per_partition_seconds(context: AssetExecutionContext, metadata: dict) -> dict:
    """The step's `seconds.*` go on each partition as its share; the rest stays on the output."""
    if not context.has_partition_key_range:
        return metadata
    keys = list(context.partition_keys)
    for key in keys:
        context.add_asset_metadata(share_seconds({k: v for k, v in metadata.items() if k.startswith("seconds.")},
                                                 len(keys)), partition_key=key)
    return {k: v for k, v in metadata.items() if not k.startswith("seconds.")}


def build_asset(spec: TableSpec, start: str) -> AssetsDefinition:
    key = asset_key(spec)
    body = _bronze_body if spec.layer == "bronze" else _model_body

    # A multi_asset of one table rather than @asset: only a subsettable op may end a step without its check
    # outputs, and a batch whose source delivered nothing publishes nothing (no materialization, no check
    # results); Dagster then skips what depends on it in the same run.
    @multi_asset(
        name=key.to_python_identifier(),
        outs={key.to_python_identifier(): AssetOut(
            key=key, description=spec.description, group_name=f"{spec.domain}_{spec.layer}", tags=_tags(spec),
            metadata=_definition_metadata(spec), automation_condition=condition_for(spec), is_required=False)},
        deps=[asset_key(get_spec(t)) for t in dependencies(spec)],
        partitions_def=partitions_def(spec, start),
        check_specs=_check_specs(spec),
        can_subset=True,
        backfill_policy=BackfillPolicy.single_run(),
        retry_policy=RETRY,
        # the in-process executor runs, of the steps that are ready, the highest priority first
        op_tags={"layer": spec.layer, "domain": spec.domain, "dagster/priority": str(steps_to_gold(spec.id))},
    )
    def _asset(context: AssetExecutionContext, lakehouse: LakehouseResource, spark: SparkResource):
        selected = context.selected_asset_check_keys
        try:
            with reusing_tables():  # the step's many looks at a few tables: one open each (publish included)
                for event in body(spec, context, lakehouse, spark):
                    if isinstance(event, Output):
                        yield Output(event.value, output_name=key.to_python_identifier(),
                                     metadata=_per_partition_seconds(context, event.metadata))
                    elif AssetCheckKey(key, event.check_name) in selected:  # a run may leave checks out
                        yield event
        except LakehouseError as exc:  # a problem in the data or config: say it plainly, don't retry
            raise Failure(description=str(exc), allow_retries=False) from exc

    return _asset


def _bronze_body(spec: TableSpec, context: AssetExecutionContext, lakehouse: LakehouseResource,
                 spark: SparkResource):
    if spec.extract is not None:
        yield from _extract_body(spec, context, lakehouse, spark)
        return
    if spec.stream is not None:  # a message stream (Kafka) commits its rows together with its offsets
        from lakehouse.pipeline.kafka_asset import kafka_body

        yield from kafka_body(spec.stream, spec, context, lakehouse, spark)
        return
    settings = lakehouse.settings()
    keys = list(context.partition_keys)
    watch = Stopwatch()
    # fingerprinted before the files are read: a file landing in between can only cause one more run, never a
    # batch recorded as read that was not
    landed = LandingZone(settings).batches_of(spec.landing, keys)
    if not any(b.files for b in landed.values()):
        context.log.warning(f"{spec.id}: {NOTHING_LANDED} ({span(keys)}) under {settings.landing}/"
                            f"{spec.landing.prefix}; nothing published, its downstream waits for them")
        _record_waiting(context, spec, {key: (NOTHING_LANDED, f"no file under {settings.landing}/{spec.landing.prefix}/"
                                              f"dt={key}/") for key in keys})
        return
    with watch("spark_session"):
        session = spark.session()
    required = [c for c in required_columns(spec) if c in {col.name for col in spec.columns}]
    with watch("read_landing"):  # the executors parse; the driver gets per-file stats back
        batch = parse_landing(session, settings, spec, keys, datetime.now(timezone.utc), required)
    set_aside = sum(batch.quarantined_by_day.values())
    metrics = bronze_metrics(batch.rows_by_day, batch.quarantined_by_day, batch.nulls, required, keys)
    beside = Stopwatch()  # its own: the Output's seconds.* are sent before this commit ends

    def quarantine():
        with beside("quarantine_write"):
            lakehouse.write_quarantine(spec, batch.quarantine, keys, set_aside)

    try:  # the quarantine commits beside the table (a bronze batch has no gate to pass first); both before the
        with alongside(quarantine):  # step ends, and the parse they both read is released after them
            files = batch.files
            unreadable = {str(f.file): f.error for f in files if f.error}
            missing: dict[str, int] = {}
            extra: set[str] = set()
            for f in files:
                for col, n in f.missing_columns.items():
                    missing[col] = missing.get(col, 0) + n
                extra.update(f.extra_columns)
            yield AssetCheckResult(
                check_name="landing_files_readable",
                passed=not unreadable,
                severity=AssetCheckSeverity.WARN,
                metadata={"files": len(files), "unreadable": MetadataValue.json(unreadable)},
            )
            by_day = {}
            for dt in keys:
                rows, quarantined = batch.rows_by_day.get(dt, 0), batch.quarantined_by_day.get(dt, 0)
                nulls = batch.nulls.get(dt, {})
                by_day[dt] = {"rows_in": rows + quarantined, "rows_published": rows, "rows_quarantined": quarantined,
                              **{f"null_rate.{c}": round(nulls.get(c, 0) / rows, 4) if rows else 0.0 for c in required},
                              **landed[dt].metadata(), **({"status": NOTHING_LANDED} if not landed[dt].files else {})}
            _report_days(context, keys, by_day, metrics)
            with watch("anomaly"):  # bronze keeps what landed: its anomalies warn, they never block
                yield quality_step.anomaly_result(spec, quality_step.judge_batch(settings, spec, metrics))
            lines = sum(f.lines_read for f in files)
            published = sum(batch.rows_by_day.values())
            context.log.info(f"{spec.id}: {len(files)} files, {lines} lines -> {published} rows, "
                             f"{set_aside} quarantined")
            yield Output(
                batch.rows,
                metadata={
                    "files": len(files),
                    "lines_read": lines,
                    "drift_missing_columns": MetadataValue.json(missing),
                    "drift_extra_columns": MetadataValue.json(sorted(extra)),
                    **watch.metadata(),
                },
            )
        context.log.info(f"{spec.id}: quarantine of {set_aside} rows committed in "
                         f"{beside.seconds['quarantine_write']:.1f}s (beside the table's commit)")
        _record(context, lakehouse, spec, metrics)
    finally:
        batch.release()


def _extract_body(spec: TableSpec, context: AssetExecutionContext, lakehouse: LakehouseResource,
                  spark: SparkResource):
    """A bronze table fed by an extractor (a database export): each day is streamed to staging Parquet files,
    then the blocking count check; Spark reads the staged days and publishes them in one commit. A day whose
    rows written differ from the source's count publishes nothing. Staging is deleted either way."""
    settings = lakehouse.settings()
    keys = list(context.partition_keys)
    ingested_at = datetime.now(timezone.utc)
    watch = Stopwatch()
    results = {}
    staging = Staging.for_run(settings, spec.layer, spec.name)
    try:
        with watch("extract"):
            for dt in keys:
                results[dt] = r = spec.extract(settings, spec, dt, ingested_at, staging)
                context.log.info(f"{spec.id} {dt}: {r.rows_written} rows in {r.batches} batches from {r.source} "
                                 f"(source count {r.source_count}, attempt {r.attempts}, {r.mode})")
                # a day the source had no rows for is published empty: its downstream reads it as empty, rightly
                context.add_asset_metadata({"dagster/row_count": r.rows_written}, partition_key=dt)
        counts = {dt: {"source_count": r.source_count, "rows_written": r.rows_written} for dt, r in results.items()}
        mismatched = {dt: counts[dt] for dt, r in results.items() if not r.count_matches}
        yield AssetCheckResult(
            check_name="source_count_matches",
            passed=not mismatched,
            metadata={"days": MetadataValue.json(counts), "mismatched": MetadataValue.json(mismatched)},
        )
        if mismatched:
            raise Failure(description=f"{spec.id}: rows written differ from the source's count {mismatched}; "
                          "nothing was published.", allow_retries=False)
        with watch("spark_session"):
            session = spark.session()
        files = [spark_path(f) for r in results.values() for f in r.files]
        schema = from_arrow_schema(next(iter(results.values())).schema) if results else None
        data = session.read.schema(schema).parquet(*files) if files else pa.table({})
        yield Output(data, metadata={
            "source": next(iter(results.values())).source if results else "",
            "source_rows": sum(r.source_count or 0 for r in results.values()),
            "rows_written": sum(r.rows_written for r in results.values()),
            "batches": sum(r.batches for r in results.values()),
            "attempts": max((r.attempts for r in results.values()), default=0),
            "mode": next(iter(results.values())).mode if results else "",
            **watch.metadata(),
        })
    finally:  # after the IO manager published the Output (or the step failed)
        staging.clear()


def _model_body(spec: TableSpec, context: AssetExecutionContext, lakehouse: LakehouseResource,
                spark: SparkResource):
    keys = list(context.partition_keys)
    covered = batch_days(spec, keys)
    present = {up.table: lakehouse.partitions_of(get_spec(up.table)) for up in spec.upstreams}  # no JVM needed
    missing = missing_upstreams(spec, keys, present, lakehouse.settings().warehouse)
    empty: dict[str, set[str]] = {}
    if missing:  # a day published with no rows holds no files, yet it is there: count it
        empty = published_empty(context.instance, spec, covered, present)
        for table, days in empty.items():
            present[table] = sorted(set(present[table]) | days)
        missing = missing_upstreams(spec, keys, present, lakehouse.settings().warehouse)
    if missing:  # publish nothing: skip the batch, or refuse it when some of its days are ready
        _wait_for_upstream(context, spec, keys, missing, lakehouse.settings())
        return
    watch = Stopwatch()
    with watch("spark_session"):  # the JVM starts here in the run's first Spark step
        session = spark.session()
    views = {}
    for up in spec.upstreams:
        up_spec = get_spec(up.table)
        if up.table == spec.id:  # the table's own history, e.g. SCD2: everything before this batch
            parts = [p for p in present[up.table] if p < keys[0]]
        else:
            parts = upstream_partitions(up, spec, keys, present[up.table])
        with watch("read_upstream"):  # a lazy, partition-filtered scan
            views[up.view] = lakehouse.read_df(session, up_spec, parts, missing_ok=up.table == spec.id
                                               or up.needs in ("optional", "any") or up.table in empty)

    result = model_frame(session, spec, views, keys, lakehouse.settings())
    with watch("transform_and_rules"):  # Spark is lazy: the model's SQL runs once, in the key check's pass,
        rules = check_rows(spec, result, keys)  # which the rules', the contract screen's counts, metrics ride along
    metrics = model_metrics(spec, rules, keys, keyed(rules))
    _report_days(context, keys, rules.by_day, metrics)
    def quarantine():
        with watch("quarantine_write"):
            lakehouse.write_quarantine(spec, rules.quarantine, keys, rules.rows_quarantined)

    try:  # outputs are written as they are yielded, so the cache is released after publishing
        with alongside(quarantine):  # the quarantine commit runs beside the contract; both done before publishing
            rules_ok = not rules.failed_rules
            yield AssetCheckResult(check_name="row_rules", passed=rules_ok, metadata=rules.metadata())
            if not rules_ok:
                where = lakehouse.write_rejected(spec, result, keys)
                yield AssetCheckResult(check_name="contract", passed=False,
                                       metadata={"skipped": "the batch was refused by fail rules"})
                raise Failure(
                    description=f"{spec.id}: fail rules violated {rules.failed_rules}; nothing was published. "
                    f"The refused batch is kept at {where}",
                    metadata={"failed_rules": MetadataValue.json(rules.failed_rules), "rejected_batch": where},
                    allow_retries=False,
                )
            with watch("contract"):
                contract = evaluate_contract(rules.valid, spec, counted=contract_counts(rules),
                                             duplicates=key_duplicates(rules))
            yield AssetCheckResult(check_name="contract", passed=contract.passed,
                                   metadata={k: MetadataValue.json(v) if isinstance(v, (list, dict)) else v
                                             for k, v in contract.metadata().items()})
            if not contract.passed:
                where = lakehouse.write_rejected(spec, rules.valid, keys)
                raise Failure(
                    description=f"{spec.id}: contract failed, nothing was published (the table keeps its previous "
                    f"version). Refused batch kept at {where}.\n{contract.summary()}",
                    metadata={"rejected_batch": where},
                    allow_retries=False,
                )
            with watch("anomaly"):  # the history is read by delta-rs: no Spark job
                judgements = quality_step.judge_batch(lakehouse.settings(), spec, metrics)
            yield quality_step.anomaly_result(spec, judgements)
            if blocked := [j for j in judgements if j.blocks]:
                where = lakehouse.write_rejected(spec, rules.valid, keys)
                raise Failure(
                    description=f"{spec.id}: anomaly, nothing was published (the table keeps its previous version). "
                    f"Refused batch kept at {where}.\n" + "\n".join(j.summary() for j in blocked),
                    metadata={"rejected_batch": where, "anomalies": MetadataValue.json([j.metadata() for j in blocked])},
                    allow_retries=False,
                )
            with watch("rerun_diff"):  # a Spark job only when a partition of the batch already held data
                diffs = quality_step.rerun_diffs(lakehouse, session, spec, rules.valid, keys)
            for dt, diff in diffs.items():
                context.add_asset_metadata(quality_step.diff_metadata(diff), partition_key=dt)
            yield quality_step.diff_result(lakehouse.settings(), spec, diffs)
            # rows in / published / quarantined are each partition's own (_report_days); batch totals are on row_rules
        yield Output(rules.valid, metadata=watch.metadata())
        _record(context, lakehouse, spec, metrics, diffs)
    finally:
        rules.release()


def _record(context: AssetExecutionContext, lakehouse: LakehouseResource, spec: TableSpec, metrics: dict,
            diffs: dict | None = None) -> None:
    """After the IO manager published the batch: its metrics (and a re-run's diffs) to the ops tables. The batch is
    published by now: a failure here is a warning in the run's log (and a gap in the history), not a failed step
    that a retry would publish again."""
    watch = Stopwatch()
    try:
        with watch("record"):
            version = quality_step.record(lakehouse, spec, context.run_id, metrics, diffs)
    except Exception as exc:  # storage errors of every kind (a storage error names no credential)
        first = (str(exc).strip().splitlines() or [""])[0]
        context.log.warning(f"{spec.id}: published, but its metrics were not recorded in ops.partition_metrics: "
                            f"{type(exc).__name__}: {first}")
        return
    context.log.info(f"{spec.id}: metrics of {len(metrics)} partition(s) at version {version} recorded in "
                     f"ops.partition_metrics in {watch.seconds['record']:.2f}s")


def build_assets(specs, start: str) -> list[AssetsDefinition]:
    """Assets whose partitions begin at `start` (Settings.start_date)."""
    return [build_asset(s, start) for s in specs]
