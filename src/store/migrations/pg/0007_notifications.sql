-- dzong schema 7: notifications (issue 6), see store_notify.c.
SELECT 1;
