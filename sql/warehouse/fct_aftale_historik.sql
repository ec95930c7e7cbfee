-- Grain: one row per version of a training agreement: valid from `gyldig_fra` (the portal's
-- `aendret` of that version) until `gyldig_til` (the next version's, NULL for the current).
-- Versions accumulate in raw_uddannelsesaftale across incremental loads (transforms/land.py),
-- so a past release can be rebuilt as the agreements stood at its cut-off.
CREATE OR REPLACE TABLE fct_aftale_historik AS
SELECT
    aftale_id,
    elev_id,
    virksomhed_id,
    institutionsnummer,
    uddannelse_kode,
    startdato,
    slutdato,
    ophoert_dato,
    ophoert_aarsag,
    oprettet,
    aendret AS gyldig_fra,
    lead(aendret) OVER (PARTITION BY aftale_id ORDER BY aendret) AS gyldig_til
FROM stg_laerepladsen__uddannelsesaftale;
-- No ORDER BY: nothing downstream depends on row order (the cubes aggregate), and sorting
-- the whole table was a fifth of the warehouse build at 100x national scale.
