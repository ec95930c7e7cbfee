-- Grain: one row per refusal reason, with its validity period. Captions come from the store
-- (afslagsbegrundelse.tekst); the order is the reason code's.
CREATE OR REPLACE TABLE dim_afslagsaarsag AS
SELECT
    begrundelse_kode,
    tekst AS aarsag,
    gyldig_fra,
    gyldig_til,
    row_number() OVER (ORDER BY begrundelse_kode) AS sortering
FROM stg_laerepladsen__afslagsbegrundelse
ORDER BY begrundelse_kode;
