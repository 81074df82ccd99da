"""The one registry of table specs. Each domain contributes a tuple of specs; everything else reads them here."""
from __future__ import annotations

from functools import lru_cache

from lakehouse.model.spec import TableSpec


@lru_cache(maxsize=1)
def all_specs() -> tuple[TableSpec, ...]:
    from lakehouse.domains import behavior, billing, commerce, startups

    specs = (*commerce.SPECS, *startups.SPECS, *billing.SPECS, *behavior.SPECS)
    ids = [s.id for s in specs]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"table ids declared twice: {sorted(dupes)}")
    known = set(ids)
    for spec in specs:
        for up in spec.upstreams:
            if up.table not in known:
                raise ValueError(f"{spec.id} reads {up.table}, which no spec declares")
    return specs


def get_spec(table_id: str) -> TableSpec:
    """The spec of "layer.name"; a bare name only when one layer has it (fx_rates is bronze and silver)."""
    found = [s for s in all_specs() if s.id == table_id] or [s for s in all_specs() if s.name == table_id]
    if len(found) == 1:
        return found[0]
    if found:
        raise KeyError(f"{table_id!r} is ambiguous: say {' or '.join(s.id for s in found)}")
    raise KeyError(f"no table {table_id!r}; known: {', '.join(s.id for s in all_specs())}")


def specs_in(layer: str | None = None, domain: str | None = None) -> tuple[TableSpec, ...]:
    return tuple(
        s for s in all_specs() if (layer is None or s.layer == layer) and (domain is None or s.domain == domain)
    )


def landed_specs(domain: str | None = None) -> tuple[TableSpec, ...]:
    """Bronze tables fed from landing files (not by a database export or a Kafka topic)."""
    return tuple(s for s in specs_in("bronze", domain) if s.landing is not None)


def landing_domains(specs: tuple[TableSpec, ...] | None = None) -> list[str]:
    """Domains whose bronze tables are fed from the landing zone (billing, say, is fed by a database)."""
    return sorted({s.domain for s in (all_specs() if specs is None else specs)
                   if s.layer == "bronze" and s.landing is not None})


def dependencies(spec: TableSpec) -> list[str]:
    """The upstream tables that are the asset's Dagster dependencies: not its own history, not an upstream
    it takes only when present (Upstream.needs "optional")."""
    return [u.table for u in spec.upstreams if u.table != spec.id and u.needs != "optional"]


@lru_cache(maxsize=None)
def readers(table_id: str, optional: bool = True) -> tuple[str, ...]:
    """The tables that read this one (its own history aside); `optional=False`: only those it is a Dagster
    dependency of (`dependencies`)."""
    def reads(spec: TableSpec) -> list[str]:
        return [u.table for u in spec.upstreams] if optional else dependencies(spec)

    return tuple(s.id for s in all_specs() if s.id != table_id and table_id in reads(s))


def downstream(table_ids) -> set[str]:
    """Every table a change in `table_ids` reaches through Dagster's dependencies, those tables excluded."""
    start = set(table_ids)
    found, todo = set(), list(start)
    while todo:
        for reader in readers(todo.pop(), optional=False):
            if reader not in found:
                found.add(reader)
                todo.append(reader)
    return found - start


@lru_cache(maxsize=None)
def landing_sources(table_id: str) -> tuple[str, ...]:
    """The landing prefixes ('shop/orders') of the landing-fed bronze tables this table is built from, through
    every upstream (itself, when it is one); empty for a table fed only by a database or a stream."""
    spec = get_spec(table_id)
    found = {spec.landing.prefix} if spec.landing is not None else set()
    for up in spec.upstreams:
        if up.table != table_id:
            found.update(landing_sources(up.table))
    return tuple(sorted(found))


@lru_cache(maxsize=None)
def steps_to_gold(table_id: str) -> int:
    """How many tables, this one included, a change here still passes through to reach a gold table at most
    (0: it feeds no gold table). A run's steps go highest first: its gold tables are published before the
    side tables of the same run (one landed day, 2 cores: gold fresh 32 s after landing instead of 38 s)."""
    deepest = max((steps_to_gold(r) for r in readers(table_id)), default=0)
    return deepest + 1 if deepest or get_spec(table_id).layer == "gold" else 0
