"""Background tasks (django-tasks; the database backend's worker runs them: ``manage.py db_worker``)."""

from django_tasks import task

from outreach.dataio import jobs


@task()
def run_import_job(job_id: int) -> None:
    jobs.run_import(job_id)


@task()
def run_export_job(job_id: int) -> None:
    jobs.run_export(job_id)
