-- Scheduled feed downloads (issue 5): placeholder
SELECT 1;
