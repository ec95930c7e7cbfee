-- Grain: one row per refusal-reason code, with its validity period (dates, inclusive).
-- Quarantine: empty code or caption, unreadable validity dates.
CREATE OR REPLACE TABLE stg_laerepladsen__afslagsbegrundelse__kontrol AS
SELECT
    trim(begrundelse_kode) AS begrundelse_kode,
    trim(tekst) AS tekst,
    TRY_CAST(gyldig_fra AS DATE) AS gyldig_fra,
    TRY_CAST(nullif(trim(CAST(gyldig_til AS VARCHAR)), '') AS DATE) AS gyldig_til,
    CASE
        WHEN coalesce(trim(begrundelse_kode), '') = '' THEN 'tom_kode'
        WHEN coalesce(trim(tekst), '') = '' THEN 'tom_tekst'
        WHEN TRY_CAST(gyldig_fra AS DATE) IS NULL THEN 'ulaeselig_dato'
        WHEN nullif(trim(CAST(gyldig_til AS VARCHAR)), '') IS NOT NULL
             AND TRY_CAST(gyldig_til AS DATE) IS NULL THEN 'ulaeselig_dato'
    END AS karantaene_aarsag,
    begrundelse_kode AS _noegle
FROM raw_afslagsbegrundelse;
