"""Job state (issue 10): a real heartbeat field for the lease, time limits fixed at creation,
and the job's history as append-only ``JobEvent`` rows (on PostgreSQL a trigger refuses
changes to them, like the lineage tables of 0002).

Existing jobs: a running job's lease starts from its last ``updated_at`` (what the lease was
until now), and every job gets the limits its pipeline has under today's settings."""

import importlib

import django.db.models.deletion
from django.db import migrations, models

append_only = importlib.import_module("restoration.migrations.0002_append_only")

TRIGGER = (
    "CREATE TRIGGER restoration_jobevent_append_only BEFORE UPDATE OR DELETE ON "
    "restoration_jobevent FOR EACH ROW EXECUTE FUNCTION restoration_refuse_change();"
)
DROP_TRIGGER = "DROP TRIGGER IF EXISTS restoration_jobevent_append_only ON restoration_jobevent;"


def fill_existing(apps, schema_editor):
    from restoration.jobstate import job_time_limits

    Job = apps.get_model("restoration", "Job")
    for job in Job.objects.filter(time_limit_s=0).iterator():
        job.time_limit_s, job.step_time_limits = job_time_limits(job.pipeline or [])
        if job.status == "running" and job.heartbeat_at is None:
            job.heartbeat_at = job.updated_at
        Job.objects.filter(pk=job.pk).update(
            time_limit_s=job.time_limit_s,
            step_time_limits=job.step_time_limits,
            heartbeat_at=job.heartbeat_at,
        )


class Migration(migrations.Migration):

    dependencies = [
        ('restoration', '0002_append_only'),
    ]

    operations = [
        migrations.AddField(
            model_name='job',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, help_text='last sign of life of the claiming worker (the lease)', null=True),
        ),
        migrations.AddField(
            model_name='job',
            name='step_time_limits',
            field=models.JSONField(blank=True, default=list, help_text='limit in seconds of each step, fixed at creation'),
        ),
        migrations.AddField(
            model_name='job',
            name='time_limit_s',
            field=models.PositiveIntegerField(default=0, help_text='hard limit of one run of the whole job, fixed at creation'),
        ),
        migrations.CreateModel(
            name='JobEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField()),
                ('actor', models.CharField(blank=True, help_text='the user who asked, if a person did', max_length=150)),
                ('worker', models.CharField(blank=True, help_text="the worker's tag, if any", max_length=200)),
                ('from_status', models.CharField(blank=True, help_text='empty at creation', max_length=20)),
                ('to_status', models.CharField(max_length=20)),
                ('reason', models.TextField(blank=True)),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='events', to='restoration.job')),
            ],
            options={
                'ordering': ['job_id', 'at', 'id'],
                'indexes': [models.Index(fields=['job', 'id'], name='job_event_by_job')],
            },
        ),
        migrations.RunPython(fill_existing, migrations.RunPython.noop),
        append_only.PostgresOnlyRunSQL(sql=[TRIGGER], reverse_sql=[DROP_TRIGGER]),
    ]
