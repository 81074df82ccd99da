"""The checked query rewritten for an engine: tables under the engine's names, PII masked, an outer LIMIT."""
from __future__ import annotations

from sqlglot import exp

from lakehouse.query.guard import CheckedQuery
from lakehouse.query.scopes import MASK


def with_limit(tree: exp.Query, rows: int) -> exp.Query:
    """The query with an outer LIMIT of at most `rows`, so an engine can stop early; an existing smaller
    literal LIMIT is kept."""
    tree = tree.copy()
    current = tree.args.get("limit")
    value = current.args.get("expression") if isinstance(current, exp.Limit) else None
    if current is not None and not (isinstance(value, exp.Literal) and value.is_int):
        return tree  # LIMIT ALL / an expression / FETCH: leave it; the reader still stops at `rows`
    if current is None or int(value.this) > rows:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(rows)))
    return tree


def rewrite_tables(checked: CheckedQuery, target, columns_of=None) -> exp.Query:
    """A copy of the query with each registry reference renamed to `target(table) -> (database, name)`;
    an alias the user gave is kept, so qualified columns still resolve.

    With `columns_of(table) -> [column, ...]`, a reference to a table whose reader may not see some PII columns
    becomes a subquery that selects every column with those masked (for engines without masking views).
    """
    tree = checked.tree.copy()
    originals = {id(node): table for node, table in checked.refs}
    wrapped: list[tuple[exp.Table, exp.Subquery]] = []
    # a copy has the same shape, so walking both in step pairs each node with its copy
    for node, copied in zip(checked.tree.find_all(exp.Table), tree.find_all(exp.Table)):
        table = originals.get(id(node))
        if table is None:
            continue
        database, name = target(table)
        copied.set("catalog", None)
        copied.set("db", exp.to_identifier(database, quoted=True))
        copied.set("this", exp.to_identifier(name, quoted=True))
        masked = checked.masked(table)
        if columns_of is not None and masked:
            wrapped.append((copied, _masking_subquery(copied, columns_of(table), masked)))
    for copied, subquery in wrapped:
        copied.replace(subquery)
    return tree


def _masking_subquery(reference: exp.Table, columns: list[str], masked: tuple[str, ...]) -> exp.Subquery:
    def shown(column: str) -> exp.Expression:
        ident = exp.to_identifier(column, quoted=True)
        if column not in masked:
            return exp.column(ident)
        hidden = exp.Case(ifs=[exp.If(this=exp.Is(this=exp.column(ident), expression=exp.Null()), true=exp.Null())],
                          default=exp.Literal.string(MASK))
        return exp.alias_(hidden, ident)

    alias = reference.alias or reference.name
    source = exp.Table(this=reference.this.copy(), db=reference.args["db"].copy())
    select = exp.select(*[shown(c) for c in columns]).from_(source)
    return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
