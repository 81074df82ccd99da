"""Errors a user can act on: each message names the table, column or file at fault."""


class LakehouseError(Exception):
    """Base class for every error the platform raises on purpose."""


class SchemaMismatchError(LakehouseError):
    """A batch changes the type of a column a table already has."""

    def __init__(self, table: str, column: str, existing: str, incoming: str):
        self.table, self.column, self.existing, self.incoming = table, column, existing, incoming
        super().__init__(
            f"table {table}: column {column!r} is {existing} in the table but {incoming} in the new batch; "
            "incompatible type changes are refused (rename the column or migrate the table)"
        )


class LandingFileError(LakehouseError):
    """A landing file cannot be read at all (not gzip, wrong encoding, ...)."""


class ReadOnlyQueryError(LakehouseError):
    """The query layer refused a statement that is not a read-only query."""


class ConfigError(LakehouseError, ValueError):
    """A setting (a LAKEHOUSE_* variable) the platform cannot use; the message names it and what is allowed."""

    @classmethod
    def invalid(cls, variable: str, value: str | None, allowed: str, *, secret: bool = False) -> "ConfigError":
        shown = "***" if secret and value else repr(value)
        return cls(f"{variable}={shown} is not valid: expected {allowed}")
