-- Grain: one row per accepted dropout-risk assessment event (append-only). `dato` is the
-- Europe/Copenhagen calendar day of registration.
CREATE OR REPLACE TABLE fct_frafaldsvurdering AS
SELECT vurdering_id, aftale_id, risiko, registreret, CAST(registreret AS DATE) AS dato
FROM stg_laerepladsen__frafaldsvurdering
ORDER BY vurdering_id;
