# The ledger's references are checked once per statement, not once per row; the balance
# trigger reads the new rows once.
#
# A foreign key is enforced by Postgres with a trigger per inserted row and constraint: a
# million-entry accrual ran five million checks (SELECT … FOR KEY SHARE through SPI), about
# 40 % of its time. Here the same guarantees are kept by set-based triggers:
#
# - insert side (programs_ledger_references, AFTER INSERT … FOR EACH STATEMENT): every distinct
#   partner, person, rule, author and reversed entry the new rows name is locked FOR KEY SHARE —
#   as the foreign key does, so it cannot be deleted until this transaction ends — and a missing
#   one fails the statement with SQLSTATE 23503 (foreign_key_violation);
# - delete side (ledger_referenced_guard, AFTER DELETE … FOR EACH STATEMENT on partners, users and
#   earning rules): deleting a row the ledger still names fails with 23503. Ledger entries cannot
#   be deleted at all (programs_ledger_immutable), so `reverses` needs no delete guard.
#
# Concurrency is that of a foreign key under READ COMMITTED (what Django uses): an insert that
# locked a partner makes a concurrent DELETE wait, and its guard then sees the committed entries;
# a DELETE that went first makes the insert's lock find no row, and the insert fails. Primary keys
# are never updated in this project, so key updates are not guarded (a foreign key would refuse
# them).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

REFERENCES = [
    # (ledger column, referenced table)
    ("partner_id", "partners_partner"),
    ("user_id", "prm_user"),
    ("rule_id", "programs_earningrule"),
    ("created_by_id", "prm_user"),
    ("reverses_id", "programs_ledgerentry"),
]

_CHECK = """
    IF {col}s IS NOT NULL THEN
        SELECT count(*) INTO found FROM (
            SELECT 1 FROM {table} r WHERE r.id = ANY({col}s) FOR KEY SHARE OF r) s;
        IF found <> cardinality({col}s) THEN
            RAISE EXCEPTION 'insert on programs_ledgerentry: {col} names a row missing from {table}'
                USING ERRCODE = 'foreign_key_violation', TABLE = 'programs_ledgerentry';
        END IF;
    END IF;"""

FORWARD = (
    """
CREATE FUNCTION programs_ledger_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE{declare}
    found bigint;
BEGIN
    -- One pass over the new rows: the distinct combinations (a few thousand for a million
    -- entries), then each column's distinct values from those.
    WITH combos AS (SELECT {columns} FROM new_rows GROUP BY {columns})
    SELECT {arrays}
    INTO {into}
    FROM combos;{checks}
    RETURN NULL;
END $$;
CREATE TRIGGER programs_ledger_references AFTER INSERT ON programs_ledgerentry
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION programs_ledger_references();
CREATE FUNCTION programs_ledger_referenced_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    col text;
    referenced boolean;
BEGIN
    -- TG_ARGV: the ledger columns that reference the table this trigger is on.
    FOREACH col IN ARRAY TG_ARGV LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM programs_ledgerentry e WHERE e.%I IN (SELECT id FROM old_rows))',
                       col) INTO referenced;
        IF referenced THEN
            RAISE EXCEPTION 'delete on % refused: ledger entries still reference it (%)', TG_TABLE_NAME, col
                USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_referenced_guard AFTER DELETE ON partners_partner
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION programs_ledger_referenced_guard('partner_id');
CREATE TRIGGER ledger_referenced_guard AFTER DELETE ON prm_user
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION programs_ledger_referenced_guard('user_id', 'created_by_id');
CREATE TRIGGER ledger_referenced_guard AFTER DELETE ON programs_earningrule
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION programs_ledger_referenced_guard('rule_id');
""".replace("{declare}", "".join(f"\n    {col}s bigint[];" for col, _ in REFERENCES))
    .replace("{columns}", ", ".join(col for col, _ in REFERENCES))
    .replace(
        "{arrays}", ", ".join(f"array_agg(DISTINCT {col}) FILTER (WHERE {col} IS NOT NULL)" for col, _ in REFERENCES)
    )
    .replace("{into}", ", ".join(f"{col}s" for col, _ in REFERENCES))
    .replace("{checks}", "".join(_CHECK.replace("{col}", col).replace("{table}", table) for col, table in REFERENCES))
)

# The balance summary (0002), now reading the new rows once: each partner's delta in one
# grouped pass, then the same ordered lock, update and insert over those few rows.
BALANCE = """
CREATE OR REPLACE FUNCTION programs_ledger_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    deltas numeric[];
BEGIN
    SELECT array_agg(partner_id ORDER BY partner_id), array_agg(delta ORDER BY partner_id) INTO ids, deltas
    FROM (SELECT partner_id, SUM(amount) AS delta FROM new_rows WHERE kind = 'points' GROUP BY partner_id) d;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    -- Rows locked in partner order first, so concurrent multi-partner statements cannot
    -- deadlock. UPDATE then INSERT (not a bare INSERT … ON CONFLICT): Postgres checks CHECK
    -- constraints on the proposed row before the conflict, so a debit would fail
    -- "balance >= 0" even with enough points.
    PERFORM 1 FROM programs_pointsbalance b WHERE b.partner_id = ANY(ids) ORDER BY b.partner_id FOR UPDATE;
    WITH d AS (
        SELECT * FROM unnest(ids, deltas) AS d(partner_id, delta)
    ), updated AS (
        UPDATE programs_pointsbalance b SET balance = b.balance + d.delta, updated_at = now()
        FROM d WHERE b.partner_id = d.partner_id
        RETURNING b.partner_id
    )
    INSERT INTO programs_pointsbalance (partner_id, balance, updated_at)
    SELECT d.partner_id, d.delta, now() FROM d
    WHERE d.partner_id NOT IN (SELECT partner_id FROM updated)
    ORDER BY d.partner_id
    -- Another transaction created the row meanwhile: add to it.
    ON CONFLICT (partner_id) DO UPDATE
        SET balance = programs_pointsbalance.balance + EXCLUDED.balance, updated_at = EXCLUDED.updated_at;
    RETURN NULL;
END $$;
"""


def _balance_before() -> str:
    import importlib

    text = importlib.import_module("programs.migrations.0002_ledger").LEDGER_TRIGGERS
    body = text[
        text.index("CREATE FUNCTION programs_ledger_balance()") : text.index("CREATE TRIGGER programs_ledger_balance")
    ]
    return body.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


BACKWARD = """
DROP TRIGGER IF EXISTS ledger_referenced_guard ON programs_earningrule;
DROP TRIGGER IF EXISTS ledger_referenced_guard ON prm_user;
DROP TRIGGER IF EXISTS ledger_referenced_guard ON partners_partner;
DROP FUNCTION IF EXISTS programs_ledger_referenced_guard();
DROP TRIGGER IF EXISTS programs_ledger_references ON programs_ledgerentry;
DROP FUNCTION IF EXISTS programs_ledger_references();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0006_lead_routing_fields"),
        ("programs", "0002_ledger"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="ledgerentry",
            name="partner",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ledger_entries",
                to="partners.partner",
                verbose_name="partner",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="user",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ledger_entries",
                to=settings.AUTH_USER_MODEL,
                verbose_name="person",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="rule",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="entries",
                to="programs.earningrule",
                verbose_name="rule",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="created by",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="reverses",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reversals",
                to="programs.ledgerentry",
                verbose_name="reverses",
            ),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
        migrations.RunSQL(BALANCE, _balance_before()),
    ]
