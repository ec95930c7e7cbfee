-- Grain: one row per refusal registered before the release cut-off, at the finest level of
-- every attribute of AFSLAARS (month, education, workplace municipality/region/sector,
-- primary and secondary reason), with the applicant pseudonym as the individual.
-- transforms/cubes.py aggregates these rows into every cell of every view (GROUPING SETS).
-- Parameters: $cutoff (TIMESTAMPTZ, first instant of the next month, Europe/Copenhagen).
SELECT
    strftime(f.maaned, '%Y') AS tid_aar,
    strftime(f.maaned, '%Y') || 'K' || CAST(quarter(f.maaned) AS VARCHAR) AS tid_kvartal,
    strftime(f.maaned, '%YM%m') AS tid_maaned,
    u.uddannelse,
    v.region,
    v.kommune,
    v.sektor,
    p.aarsag AS primaer_aarsag,
    coalesce(s.aarsag, 'Ingen sekundær årsag') AS sekundaer_aarsag,
    f.ansoeger_pseudonym AS individ
FROM fct_afslag AS f
JOIN dim_uddannelse AS u ON u.uddannelse_kode = f.uddannelse_kode
JOIN dim_virksomhed AS v ON v.virksomhed_id = f.virksomhed_id
JOIN dim_afslagsaarsag AS p ON p.begrundelse_kode = f.primaer_kode
LEFT JOIN dim_afslagsaarsag AS s ON s.begrundelse_kode = f.sekundaer_kode
WHERE f.registreret < CAST($cutoff AS TIMESTAMPTZ)
