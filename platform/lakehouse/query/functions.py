"""The functions a query may call: an allow-list of scalar, aggregate and window functions known to be safe.

A deny-list of dangerous functions always misses one (DuckDB has table functions such as `range`,
`test_all_types`, `repeat_row`, `checkpoint`, readers of files and URLs, and gains more with each release), so
only what is listed here may run. Left out on purpose: functions whose output size is an argument (repeat,
lpad, rpad, printf and format widths), because DuckDB's memory limit does not count a single value's scratch
space, so `repeat('x', 10^9)` would allocate a gigabyte past it.

A name is matched the way the query's own call is parsed: sqlglot turns known functions into typed nodes
(`lower(x)` is `exp.Lower`) and others into `exp.Anonymous`, so each listed name is parsed once and both its
node types and its plain name are allowed.
"""
from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

AGGREGATES = """
    count count_if countif sum avg mean min max any_value first last arbitrary arg_min arg_max argmin argmax
    min_by max_by bool_and bool_or every string_agg group_concat listagg array_agg list median mode quantile
    quantile_cont quantile_disc percentile_cont percentile_disc approx_count_distinct approx_quantile stddev
    stddev_pop stddev_samp variance var_pop var_samp corr covar_pop covar_samp product bit_and bit_or bit_xor
    histogram entropy kurtosis skewness regr_slope regr_intercept regr_r2 regr_count fsum favg
"""
WINDOWS = "row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value"
SCALARS = """
    lower upper lcase ucase length len char_length character_length strlen octet_length trim ltrim rtrim
    substr substring left right concat concat_ws replace reverse split_part string_split str_split
    string_split_regex starts_with ends_with contains instr strpos position prefix suffix regexp_matches
    regexp_replace regexp_extract regexp_extract_all regexp_full_match regexp_split_to_array like_escape
    ilike_escape chr ascii unicode translate md5 sha1 sha256 hash levenshtein jaccard
    damerau_levenshtein jaro_winkler_similarity hamming mismatches editdist3 initcap
    abs ceil ceiling floor round trunc sign sqrt cbrt pow power exp ln log log2 log10 mod greatest least pi
    isnan isinf isfinite even gcd lcm degrees radians sin cos tan asin acos atan atan2 bit_count xor
    date_trunc datetrunc date_part datepart date_diff datediff date_sub date_add date_sub strftime strptime
    try_strptime to_timestamp epoch epoch_ms epoch_us make_date make_time make_timestamp year month day
    dayofmonth dayofweek dayofyear isodow week weekofyear weekday yearweek quarter hour minute second
    millisecond microsecond last_day monthname dayname current_date current_timestamp now today age
    time_bucket to_days to_hours to_minutes to_seconds to_months to_years to_weeks
    list_value list_extract list_element array_extract array_length list_contains list_has array_contains
    list_position array_position list_sort array_sort list_distinct array_distinct list_reverse list_slice
    array_slice list_concat array_concat list_aggregate list_count list_sum list_min list_max list_avg
    flatten list_transform array_transform list_filter array_filter list_reduce unnest cardinality
    struct_extract struct_pack row map map_keys map_values map_extract element_at
    json_extract json_extract_string json_extract_path json_extract_path_text json_value json_array_length
    json_keys json_type json_valid to_json json_object json_array json_structure json_contains
    nullif coalesce ifnull if iff typeof cast try_cast date timestamp
"""
# Syntax that sqlglot models as function nodes (CAST, CASE, EXTRACT, [..], {..}, EXISTS, ...): no name to list.
# UNNEST of a list (FROM UNNEST([..])) reads nothing but its argument.
# AND / OR / XOR are function nodes too in sqlglot 30 (Connector subclasses Func): without them here every WHERE
# a AND b was refused as "function ... is not on the allow-list".
_SYNTAX = (exp.Cast, exp.TryCast, exp.Case, exp.If, exp.Coalesce, exp.Extract, exp.Array, exp.Struct,
           exp.Exists, exp.Unnest, exp.Anonymous, exp.And, exp.Or, *((exp.Xor,) if hasattr(exp, "Xor") else ()))


def _names() -> frozenset[str]:
    return frozenset((AGGREGATES + " " + WINDOWS + " " + SCALARS).split())


@lru_cache(maxsize=1)
def allowed() -> tuple[frozenset[str], frozenset[type]]:
    """(names allowed as plain calls, sqlglot node types allowed), from parsing each listed name."""
    names = _names()
    types: set[type] = {t for t in _SYNTAX if t is not exp.Anonymous}
    for args in ("a", "a, b", "a, b, c", "a, b, c, d, e, f"):  # some names parse to another node per arity
        calls = ", ".join(f"{name}({args})" for name in sorted(names))
        tree = sqlglot.parse_one(f"SELECT {calls}", read="duckdb", error_level=ErrorLevel.IGNORE)
        types.update(type(node) for node in tree.find_all(exp.Func) if not isinstance(node, exp.Anonymous))
    return names, frozenset(types)


def is_allowed(node: exp.Func) -> bool:
    names, types = allowed()
    if isinstance(node, exp.Anonymous):
        return node.name.lower() in names
    return type(node) in types


def call_text(node: exp.Func, limit: int = 60) -> str:
    """How a refused call reads in a message: its name and arguments, as DuckDB spells them, shortened."""
    name, paren, args = node.sql(dialect="duckdb").partition("(")
    text = name.lower() + paren + args  # read_csv(...) as written, not sqlglot's READ_CSV(...)
    return text if len(text) <= limit else text[: limit - 3] + "..."
