-- Grain: one row per school (institution number).
-- Quarantine: empty institution number or name.
CREATE OR REPLACE TABLE stg_laerepladsen__skole__kontrol AS
SELECT
    trim(institutionsnummer) AS institutionsnummer,
    trim(navn) AS navn,
    trim(kommunekode) AS kommunekode,
    CASE
        WHEN coalesce(trim(institutionsnummer), '') = '' THEN 'tom_kode'
        WHEN coalesce(trim(navn), '') = '' THEN 'tom_tekst'
    END AS karantaene_aarsag,
    institutionsnummer AS _noegle
FROM raw_skole;
