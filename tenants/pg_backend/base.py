"""PostgreSQL backend under django-tenants' (``ORIGINAL_BACKEND``): Django's, with a schema
editor whose DDL Citus also accepts.

Citus refuses ``ALTER TABLE … ADD COLUMN`` carrying an unnamed constraint (``CHECK``,
``UNIQUE``, ``PRIMARY KEY``) on a distributed table, because it must name every
constraint the same way on the shards: a ``PositiveIntegerField`` added by a later
migration (django-otp's ``throttling_failure_count``) fails there. This editor names
those constraints inline, as Django already names the inline foreign keys. Plain
PostgreSQL gets the same schema, so one set of SQL serves both.
"""

from django.db.backends.postgresql import base
from django.db.backends.postgresql.schema import DatabaseSchemaEditor as PostgresSchemaEditor


class DatabaseSchemaEditor(PostgresSchemaEditor):
    _adding = None  # (model, field) while add_field builds its ADD COLUMN

    def add_field(self, model, field) -> None:
        self._adding = (model, field)
        try:
            super().add_field(model, field)
        finally:
            self._adding = None

    def _inline_name(self, suffix: str) -> str:
        model, field = self._adding
        return self.quote_name(
            self._create_index_name(model._meta.db_table, [field.column], suffix=suffix)
        )

    @property
    def sql_check_constraint(self) -> str:
        if self._adding is None:
            return "CHECK (%(check)s)"
        return f"CONSTRAINT {self._inline_name('_check')} CHECK (%(check)s)"

    def _iter_column_sql(self, column_db_type, params, model, field, field_db_params, *args):
        for part in super()._iter_column_sql(
            column_db_type, params, model, field, field_db_params, *args
        ):
            if self._adding is not None and part == "UNIQUE":
                yield f"CONSTRAINT {self._inline_name('_uniq')} UNIQUE"
            elif self._adding is not None and part == "PRIMARY KEY":
                yield f"CONSTRAINT {self._inline_name('_pk')} PRIMARY KEY"
            else:
                yield part


class DatabaseWrapper(base.DatabaseWrapper):
    SchemaEditorClass = DatabaseSchemaEditor
