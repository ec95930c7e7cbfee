-- Grain: one row per education. Captions come from the store (uddannelse.navn); the order is
-- the contract's (Social- og sundhedshjælper before Social- og sundhedsassistent).
CREATE OR REPLACE TABLE dim_uddannelse AS
SELECT
    uddannelse_kode,
    navn AS uddannelse,
    CASE uddannelse_kode WHEN 'SSH' THEN 1 WHEN 'SSA' THEN 2 ELSE 3 END AS sortering
FROM stg_laerepladsen__uddannelse
ORDER BY sortering, uddannelse_kode;
