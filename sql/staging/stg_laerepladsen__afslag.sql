-- Grain: one row per saved refusal (append-only and immutable in the portal).
-- Quarantine: unreadable timestamp, before the rule took effect (15 April 2021,
-- Europe/Copenhagen), unknown workplace or education, unknown or invalid reason codes, a
-- secondary reason equal to the primary, a reason outside its validity period on the day of
-- registration, an empty applicant.
CREATE OR REPLACE TABLE stg_laerepladsen__afslag__kontrol AS
WITH typed AS (
    SELECT
        a.afslag_id,
        a.virksomhed_id,
        trim(a.uddannelse_kode) AS uddannelse_kode,
        a.ansoeger_pseudonym,
        upper(trim(a.primaer_begrundelse)) AS primaer_kode,
        nullif(upper(trim(a.sekundaer_begrundelse)), '') AS sekundaer_kode,
        TRY_CAST(a.registreret AS TIMESTAMPTZ) AS registreret
    FROM raw_afslag AS a
),
reasons AS (
    SELECT * FROM stg_laerepladsen__afslagsbegrundelse__kontrol WHERE karantaene_aarsag IS NULL
)
SELECT
    t.*,
    CASE
        WHEN t.registreret IS NULL THEN 'ulaeseligt_tidspunkt'
        WHEN t.registreret < TIMESTAMPTZ '2021-04-15 00:00:00 Europe/Copenhagen' THEN 'foer_regel'
        WHEN t.virksomhed_id IS NULL OR t.virksomhed_id NOT IN (SELECT virksomhed_id FROM stg_laerepladsen__virksomhed__kontrol
                                     WHERE karantaene_aarsag IS NULL) THEN 'ukendt_virksomhed'
        WHEN t.uddannelse_kode IS NULL OR t.uddannelse_kode NOT IN (SELECT uddannelse_kode FROM stg_laerepladsen__uddannelse__kontrol
                                       WHERE karantaene_aarsag IS NULL) THEN 'ukendt_uddannelse'
        WHEN p.begrundelse_kode IS NULL THEN 'ukendt_begrundelse'
        WHEN t.sekundaer_kode IS NOT NULL AND s.begrundelse_kode IS NULL THEN 'ukendt_sekundaer_begrundelse'
        WHEN t.sekundaer_kode = t.primaer_kode THEN 'sekundaer_lig_primaer'
        WHEN CAST(t.registreret AS DATE) < p.gyldig_fra
             OR CAST(t.registreret AS DATE) > coalesce(p.gyldig_til, DATE '9999-12-31')
             OR CAST(t.registreret AS DATE) < s.gyldig_fra
             OR CAST(t.registreret AS DATE) > coalesce(s.gyldig_til, DATE '9999-12-31')
            THEN 'begrundelse_ikke_gyldig'
        WHEN t.ansoeger_pseudonym IS NULL THEN 'tom_ansoeger'
    END AS karantaene_aarsag,
    CAST(t.afslag_id AS VARCHAR) AS _noegle
FROM typed AS t
LEFT JOIN reasons AS p ON p.begrundelse_kode = t.primaer_kode
LEFT JOIN reasons AS s ON s.begrundelse_kode = t.sekundaer_kode;
