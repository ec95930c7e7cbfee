-- Grain: one row per accepted dropout-risk assessment event (append-only). `dato` is the
-- Europe/Copenhagen calendar day of registration.
CREATE OR REPLACE TABLE fct_frafaldsvurdering AS
SELECT vurdering_id, aftale_id, risiko, registreret, CAST(registreret AS DATE) AS dato
FROM stg_laerepladsen__frafaldsvurdering;
-- No ORDER BY: nothing downstream depends on row order (the cubes aggregate), and sorting
-- the whole table was a fifth of the warehouse build at 100x national scale.
