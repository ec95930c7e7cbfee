-- Grain: one row per student record (pseudonymised at landing: no CPR, names or contact data).
-- Students with unreadable CPR numbers are kept, with birth date NULL and sex 'Uoplyst'.
CREATE OR REPLACE TABLE stg_laerepladsen__elev__kontrol AS
SELECT
    elev_id,
    elev_pseudonym,
    foedselsdato,
    koen,
    CASE WHEN elev_id IS NULL THEN 'tom_kode' END AS karantaene_aarsag,
    CAST(elev_id AS VARCHAR) AS _noegle
FROM raw_elev;
