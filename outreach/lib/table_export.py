"""django-tables2's table export with every text cell made formula-safe (it escapes nothing itself).

Views exporting a table use ``SafeTableExport`` (for ``django_tables2.export.ExportMixin`` set
``export_class = SafeTableExport``).
"""

from django_tables2.export import TableExport

from outreach.lib.cells import safe_cell


class SafeTableExport(TableExport):
    def table_to_dataset(self, table, exclude_columns, dataset_kwargs=None):
        dataset = super().table_to_dataset(table, exclude_columns, dataset_kwargs)
        headers = [safe_cell(h) for h in (dataset.headers or [])]
        rows = [[safe_cell(value) for value in row] for row in dataset]
        dataset.wipe()
        if headers:
            dataset.headers = headers
        for row in rows:
            dataset.append(row)
        return dataset
