-- Grain: one row per education code in the store.
-- Quarantine: empty code or caption.
CREATE OR REPLACE TABLE stg_laerepladsen__uddannelse__kontrol AS
SELECT
    trim(uddannelse_kode) AS uddannelse_kode,
    trim(navn) AS navn,
    CASE
        WHEN coalesce(trim(uddannelse_kode), '') = '' THEN 'tom_kode'
        WHEN coalesce(trim(navn), '') = '' THEN 'tom_tekst'
    END AS karantaene_aarsag,
    uddannelse_kode AS _noegle
FROM raw_uddannelse;
