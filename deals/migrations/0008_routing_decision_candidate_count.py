from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0007_lead_text_limits"),
    ]

    operations = [
        migrations.AddField(
            model_name="routingdecision",
            name="candidate_count",
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name="partners in the band"),
        ),
        # Decisions stored until now list every candidate of their band: their count is the
        # list's length. Manual decisions had no band to draw from and stay empty.
        migrations.RunSQL(
            "UPDATE deals_routingdecision SET candidate_count = jsonb_array_length(candidates) "
            "WHERE NOT manual AND jsonb_typeof(candidates) = 'array'",
            migrations.RunSQL.noop,
        ),
    ]
