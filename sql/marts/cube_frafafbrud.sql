-- Grain: one row per (status date, student) of the running stock, for status dates at least
-- six months before the release cut-off (so the six-month outcome is known), with the outcome
-- flag afbrudt_6m. Parameters: $udgivelse (DATE).
SELECT * FROM elevbestand
WHERE CAST(statusdato + INTERVAL 6 MONTH AS DATE) <= last_day(CAST($udgivelse AS DATE))
