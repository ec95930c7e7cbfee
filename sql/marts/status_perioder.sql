-- Grain: one row per (status date, time level) of the stock cubes for one release.
-- A stock is counted on a period's last day; for the running period (the release month's
-- quarter and year) on the release cut-off's day, the last day of the release month.
-- Parameters: $udgivelse (DATE, first day of the release month).
WITH maaneder AS (
    SELECT CAST(m AS DATE) AS maaned
    FROM range(DATE '2022-01-01', CAST($udgivelse AS DATE) + INTERVAL 1 MONTH, INTERVAL 1 MONTH) AS t(m)
),
dage AS (
    SELECT
        maaned,
        last_day(maaned) AS statusdato,
        month(maaned) IN (3, 6, 9, 12) OR maaned = CAST($udgivelse AS DATE) AS kvartalsstatus,
        month(maaned) = 12 OR maaned = CAST($udgivelse AS DATE) AS aarsstatus
    FROM maaneder
)
SELECT 'M' AS niveau, statusdato,
       strftime(maaned, '%Y') AS tid_aar,
       strftime(maaned, '%Y') || 'K' || CAST(quarter(maaned) AS VARCHAR) AS tid_kvartal,
       strftime(maaned, '%YM%m') AS tid_maaned
FROM dage
UNION ALL
SELECT 'K', statusdato, strftime(maaned, '%Y'),
       strftime(maaned, '%Y') || 'K' || CAST(quarter(maaned) AS VARCHAR), NULL
FROM dage WHERE kvartalsstatus
UNION ALL
SELECT 'Å', statusdato, strftime(maaned, '%Y'), NULL, NULL
FROM dage WHERE aarsstatus
ORDER BY statusdato, niveau;
