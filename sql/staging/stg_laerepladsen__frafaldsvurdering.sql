-- Grain: one row per saved dropout-risk assessment (append-only in the portal).
-- Quarantine: unreadable timestamp, before the rule took effect (1 January 2022,
-- Europe/Copenhagen), unknown risk code, an agreement that is unknown or itself quarantined.
CREATE OR REPLACE TABLE stg_laerepladsen__frafaldsvurdering__kontrol AS
WITH typed AS (
    SELECT
        v.vurdering_id,
        v.aftale_id,
        upper(trim(v.risiko)) AS risiko,
        TRY_CAST(v.registreret AS TIMESTAMPTZ) AS registreret
    FROM raw_frafaldsvurdering AS v
)
SELECT
    t.*,
    CASE
        WHEN t.registreret IS NULL THEN 'ulaeseligt_tidspunkt'
        WHEN t.registreret < TIMESTAMPTZ '2022-01-01 00:00:00 Europe/Copenhagen' THEN 'foer_regel'
        WHEN t.risiko IS NULL OR t.risiko NOT IN ('LAV', 'MIDDEL', 'HOEJ', 'IKKE_ANGIVET') THEN 'ukendt_risiko'
        WHEN t.aftale_id IS NULL OR t.aftale_id NOT IN (SELECT aftale_id FROM stg_laerepladsen__uddannelsesaftale__kontrol
                                 WHERE karantaene_aarsag IS NULL) THEN 'ukendt_aftale'
    END AS karantaene_aarsag,
    CAST(t.vurdering_id AS VARCHAR) AS _noegle
FROM typed AS t;
