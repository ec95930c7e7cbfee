"""The asset graph's dependencies, read from the SQL each asset runs
(transforms.warehouse.tables_read), so that they cannot drift from it."""

from transforms.warehouse import sql_text, tables_read

#: tables models read that are no asset: the reference table the warehouse step loads itself
NOT_ASSETS = frozenset({"ref_kommuner"})


def asset_of(table: str) -> str:
    """The asset a table belongs to: a staging model's checked rows (``<stg>__kontrol``, the
    rows before the quarantine split) are part of the staging model."""
    return table.removesuffix("__kontrol")


def deps_of(tables: set[str], own: str = "") -> list[str]:
    """The assets behind ``tables`` (sorted), without ``own`` and what is no asset."""
    return sorted({asset_of(t) for t in tables} - NOT_ASSETS - {own})


def sql_deps(layer: str, name: str) -> list[str]:
    """The assets the model file ``sql/<layer>/<name>.sql`` reads."""
    return deps_of(tables_read(sql_text(layer, name)), own=name)
