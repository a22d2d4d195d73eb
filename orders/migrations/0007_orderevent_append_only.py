"""The timeline is append-only, in the database itself: a trigger refuses every UPDATE and DELETE of
an OrderEvent row, whoever sends it (the ORM, raw SQL, psql). Deleting an order would delete its
events, so orders cannot be deleted either: they are the shop's records. TRUNCATE (a whole-table
reset, as the test suite's flush between tests) fires no row trigger and is not refused."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION orders_orderevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'orders_orderevent is append-only: % of event % (order %, seq %) refused',
        TG_OP, OLD.id, OLD.order_id, OLD.seq
        USING ERRCODE = 'restrict_violation',
              HINT = 'Events are never updated or deleted; record a new event instead.';
END;
$$;
CREATE TRIGGER orders_orderevent_append_only
    BEFORE UPDATE OR DELETE ON orders_orderevent
    FOR EACH ROW EXECUTE FUNCTION orders_orderevent_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS orders_orderevent_append_only ON orders_orderevent;
DROP FUNCTION IF EXISTS orders_orderevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("orders", "0006_event_log_kinds")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
