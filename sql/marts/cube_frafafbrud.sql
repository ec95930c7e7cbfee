-- Grain: one row per (status date, attribute combination) of the running stock, counted, for
-- status dates at least six months before the release cut-off (so the six-month outcome is
-- known), with antal_afbrudt of them whose agreement ended AFBRUDT within six months.
-- Parameters: $udgivelse (DATE).
SELECT * FROM elevbestand
WHERE CAST(statusdato + INTERVAL 6 MONTH AS DATE) <= last_day(CAST($udgivelse AS DATE))
