"""The access log and issued bulletins are append-only for every path (security round two, defect 6): a
stored row's save(), the queryset's update()/delete()/bulk_update(), and plain SQL are all refused, on
PostgreSQL and SQLite alike. Deleting an account still keeps its log lines, with the login set to NULL."""

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction

from outreach.accounts.models import AccessLog
from outreach.accounts.services import record_access
from outreach.dashboards.models import Bulletin, BulletinLine
from outreach.lib.append_only import AppendOnlyError
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def bulletin(users, places):
    issued = Bulletin.objects.create(
        level="county",
        year=2021,
        number=1,
        title="测试通报",
        as_of=dt.date(2021, 8, 13),
        metric="registration_rate",
        issuer="运城市委政法委",
        issued_by=users.city,
    )
    BulletinLine.objects.create(bulletin=issued, position=1, rank=1, code=places.xinjiang.code, name="新绛县")
    return issued


def _tables():
    return [AccessLog._meta.db_table, Bulletin._meta.db_table, BulletinLine._meta.db_table]


def test_querysets_refuse_update_and_delete(users, bulletin):
    entry = record_access(users.county, AccessLog.Kind.EXPORT, "住户", rows=3)
    for model in (AccessLog, Bulletin, BulletinLine):
        with pytest.raises(AppendOnlyError):
            model.objects.all().update(pk=999)
        with pytest.raises(AppendOnlyError):
            model.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AccessLog.objects.bulk_update([entry], ["rows"])
    entry.refresh_from_db()
    assert entry.rows == 3 and Bulletin.objects.count() == 1


@pytest.mark.parametrize("statement", ["UPDATE {table} SET id = id", "DELETE FROM {table}"])
def test_the_database_refuses_plain_sql(users, bulletin, statement):
    record_access(users.county, AccessLog.Kind.EXPORT, "住户", rows=3)
    for table in _tables():
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement.format(table=connection.ops.quote_name(table)))
    assert AccessLog.objects.count() == 1 and BulletinLine.objects.count() == 1


def test_deleting_an_account_keeps_its_log_lines(places):
    clerk = make_user(username="leaving_clerk")
    record_access(clerk, AccessLog.Kind.IMPORT, "住户", rows=5)
    clerk.delete()
    (entry,) = AccessLog.objects.all()
    assert entry.user is None and entry.username == "leaving_clerk" and entry.rows == 5
    # Only the login may become NULL: changing anything else at the same time is still refused.
    table = connection.ops.quote_name(AccessLog._meta.db_table)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET user_id = NULL, rows = 0")
