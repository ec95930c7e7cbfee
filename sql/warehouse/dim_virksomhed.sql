-- Grain: one row per training workplace, with its municipality, region and sector captions.
-- Unknown codes give 'Uoplyst', never a dropped row.
CREATE OR REPLACE TABLE dim_virksomhed AS
SELECT
    v.virksomhed_id,
    coalesce(k.kommune, 'Uoplyst') AS kommune,
    coalesce(k.region, 'Uoplyst') AS region,
    CASE v.sektor
        WHEN 'KOMMUNE' THEN 'Kommunal'
        WHEN 'REGION' THEN 'Regional'
        WHEN 'STAT' THEN 'Statslig'
        WHEN 'PRIVAT' THEN 'Privat'
        ELSE 'Uoplyst'
    END AS sektor
FROM stg_laerepladsen__virksomhed AS v
LEFT JOIN ref_kommuner AS k ON k.kommunekode = v.kommunekode
ORDER BY v.virksomhed_id;
