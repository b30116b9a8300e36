-- Feed events (issue 5): placeholder, see store_events.c
SELECT 1;
