"""What every measurement shares: the users it logs in as, sample rows to search for, and page timing."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count
from django.test import Client

from outreach.accounts.models import Role, User
from outreach.people.models import Household
from outreach.places.models import County, GridArea, Village

from .registry import summarize

BENCH_USERS = {"city": "bench_city", "county": "bench_county", "grid": "bench_grid"}


class QueryCounter:
    """Counts the queries run while installed with ``connection.execute_wrapper`` (DEBUG or not).

    CaptureQueriesContext slices ``queries_log``, which each request clears at its start: a count taken
    across a test-client request can come out as zero.
    """

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class MeasureError(Exception):
    """A measurement could not produce figures (a page answered an error, a tool failed)."""


@dataclass
class Context:
    runs: int = 10
    load_seconds: int = 10
    load_runs: int = 3
    io_runs: int = 3
    log: Callable[[str], None] = lambda message: None
    _cache: dict = field(default_factory=dict)

    # -- the world the measurements look at ----------------------------------------------------------------

    @property
    def county(self) -> County:
        """The county with the most households: the heaviest county user's view."""
        if "county" not in self._cache:
            row = (
                Household.objects.values("county").annotate(n=Count("id")).order_by("-n", "county").first()
                if Household.objects.exists()
                else None
            )
            self._cache["county"] = County.objects.get(pk=row["county"]) if row else County.objects.first()
        return self._cache["county"]

    @property
    def sample_household(self) -> Household:
        """A household of that county with a phone, picked the same way every run."""
        if "household" not in self._cache:
            qs = Household.objects.filter(county=self.county).exclude(phone="").order_by("id")
            count = qs.count()
            if not count:
                raise MeasureError("基准数据里没有住户：先运行 build_city")
            self._cache["household"] = qs[count // 2]
        return self._cache["household"]

    def user(self, role: str) -> User:
        """The benchmark's own login for ``role`` ("city", "county", "grid"), created on first use."""
        key = f"user:{role}"
        if key in self._cache:
            return self._cache[key]
        user, _ = User.objects.get_or_create(username=BENCH_USERS[role])
        user.role = {"city": Role.CITY, "county": Role.COUNTY, "grid": Role.GRID}[role]
        user.is_staff = True
        user.is_active = True
        user.county = None if role == "city" else self.county
        user.set_unusable_password()
        user.save()
        if role == "grid":
            village = Village.objects.get(pk=self.sample_household.village_id)
            user.town_id = village.town_id
            user.save(update_fields=["town"])
            user.grids.set(GridArea.objects.filter(village=village))
        self._cache[key] = user
        return user

    # -- timing ---------------------------------------------------------------------------------------------

    def client_for(self, role: str) -> Client:
        key = f"client:{role}"
        if key not in self._cache:
            client = Client()
            client.force_login(self.user(role))
            self._cache[key] = client
        return self._cache[key]

    def page(self, role: str, url: str, data: dict | None = None, runs: int | None = None, before_each=None) -> dict:
        """Median and p95 ms of GET ``url`` as ``role`` over ``runs`` requests after one counted warm-up
        (``runs=0``: only that first request, timed); ``before_each()`` runs untimed before every timed one."""
        client = self.client_for(role)
        queries = QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(queries):
            response = client.get(url, data)
        first_ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise MeasureError(f"{url} 返回 HTTP {response.status_code}")
        if runs == 0:  # the first (counted) request only
            return {"first_ms": round(first_ms, 1), "queries": queries.count}
        samples, later = [], QueryCounter()
        for _ in range(runs or self.runs):
            if before_each is not None:
                before_each()
            later.count = 0
            started = time.perf_counter()
            with connection.execute_wrapper(later):
                response = client.get(url, data)
            samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise MeasureError(f"{url} 返回 HTTP {response.status_code}")
        figures = summarize(samples)
        figures["queries"] = queries.count
        if later.count != queries.count:  # a page that keeps what it computed (the rankings) asks less again
            figures["queries_later"] = later.count
        figures["kb"] = round(len(response.content) / 1024, 1)
        return figures
