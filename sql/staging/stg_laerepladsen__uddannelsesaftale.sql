-- Grain: one row per version of a training agreement (aftale_id, aendret) landed so far; the
-- portal updates agreements in place, and every version seen is kept for history.
-- Quarantine: unreadable dates or timestamps, unknown student, workplace or education, an end
-- before the start, an unknown or half-registered termination. An unknown school is kept and
-- publishes as 'Uoplyst'.
CREATE OR REPLACE TABLE stg_laerepladsen__uddannelsesaftale__kontrol AS
WITH typed AS (
    SELECT
        a.aftale_id,
        a.elev_id,
        a.virksomhed_id,
        trim(a.institutionsnummer) AS institutionsnummer,
        trim(a.uddannelse_kode) AS uddannelse_kode,
        TRY_CAST(a.startdato AS DATE) AS startdato,
        TRY_CAST(a.slutdato AS DATE) AS slutdato,
        TRY_CAST(nullif(trim(CAST(a.ophoert_dato AS VARCHAR)), '') AS DATE) AS ophoert_dato,
        nullif(upper(trim(a.ophoert_aarsag)), '') AS ophoert_aarsag,
        TRY_CAST(a.oprettet AS TIMESTAMPTZ) AS oprettet,
        TRY_CAST(a.aendret AS TIMESTAMPTZ) AS aendret,
        nullif(trim(CAST(a.ophoert_dato AS VARCHAR)), '') AS _ophoert_raa
    FROM raw_uddannelsesaftale AS a
)
SELECT
    t.* EXCLUDE (_ophoert_raa),
    CASE
        WHEN t.startdato IS NULL OR t.slutdato IS NULL THEN 'ulaeselig_dato'
        WHEN t._ophoert_raa IS NOT NULL AND t.ophoert_dato IS NULL THEN 'ulaeselig_dato'
        WHEN t.oprettet IS NULL OR t.aendret IS NULL THEN 'ulaeseligt_tidspunkt'
        WHEN t.elev_id IS NULL OR t.elev_id NOT IN (SELECT elev_id FROM stg_laerepladsen__elev__kontrol
                               WHERE karantaene_aarsag IS NULL) THEN 'ukendt_elev'
        WHEN t.virksomhed_id IS NULL OR t.virksomhed_id NOT IN (SELECT virksomhed_id FROM stg_laerepladsen__virksomhed__kontrol
                                     WHERE karantaene_aarsag IS NULL) THEN 'ukendt_virksomhed'
        WHEN t.uddannelse_kode IS NULL OR t.uddannelse_kode NOT IN (SELECT uddannelse_kode FROM stg_laerepladsen__uddannelse__kontrol
                                       WHERE karantaene_aarsag IS NULL) THEN 'ukendt_uddannelse'
        WHEN t.slutdato < t.startdato THEN 'slut_foer_start'
        WHEN t.ophoert_aarsag IS NOT NULL
             AND t.ophoert_aarsag NOT IN ('GENNEMFOERT', 'AFBRUDT', 'OVERFOERT') THEN 'ukendt_ophoersaarsag'
        WHEN (t.ophoert_aarsag IS NULL) <> (t.ophoert_dato IS NULL) THEN 'ufuldstaendigt_ophoer'
    END AS karantaene_aarsag,
    CAST(t.aftale_id AS VARCHAR) || '@' || coalesce(CAST(t.aendret AS VARCHAR), '?') AS _noegle
FROM typed AS t;
