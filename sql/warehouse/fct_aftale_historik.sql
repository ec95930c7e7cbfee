-- Grain: one row per version of a training agreement: valid from `gyldig_fra` (the portal's
-- `aendret` of that version) until `gyldig_til` (the next version's, NULL for the current).
-- History accumulates in hist_uddannelsesaftale, which keeps every version landed (see
-- transforms/warehouse.py); this model derives validity intervals from it.
CREATE OR REPLACE TABLE fct_aftale_historik AS
SELECT
    h.aftale_id,
    h.elev_id,
    h.virksomhed_id,
    h.institutionsnummer,
    h.uddannelse_kode,
    h.startdato,
    h.slutdato,
    h.ophoert_dato,
    h.ophoert_aarsag,
    h.oprettet,
    h.aendret AS gyldig_fra,
    lead(h.aendret) OVER (PARTITION BY h.aftale_id ORDER BY h.aendret) AS gyldig_til
FROM hist_uddannelsesaftale AS h
WHERE h.aftale_id IN (SELECT aftale_id FROM stg_laerepladsen__uddannelsesaftale)
ORDER BY h.aftale_id, h.aendret;
