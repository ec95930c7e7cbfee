-- Grain: one row per training workplace (production unit).
-- Unknown sector or municipality codes are kept: they publish as 'Uoplyst' (dim_virksomhed).
CREATE OR REPLACE TABLE stg_laerepladsen__virksomhed__kontrol AS
SELECT
    virksomhed_id,
    upper(trim(sektor)) AS sektor,
    trim(kommunekode) AS kommunekode,
    CASE WHEN virksomhed_id IS NULL THEN 'tom_kode' END AS karantaene_aarsag,
    CAST(virksomhed_id AS VARCHAR) AS _noegle
FROM raw_virksomhed;
