-- Grain: one row per accepted refusal. `registreret` is the instant; `maaned` the first day of
-- its Europe/Copenhagen calendar month (the session time zone is Europe/Copenhagen).
CREATE OR REPLACE TABLE fct_afslag AS
SELECT
    afslag_id,
    registreret,
    CAST(date_trunc('month', registreret) AS DATE) AS maaned,
    virksomhed_id,
    uddannelse_kode,
    primaer_kode,
    sekundaer_kode,
    ansoeger_pseudonym
FROM stg_laerepladsen__afslag;
-- No ORDER BY: nothing downstream depends on row order (the cubes aggregate), and sorting
-- the whole table was a fifth of the warehouse build at 100x national scale.
