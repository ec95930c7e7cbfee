-- Grain: one row per school, plus one 'Uoplyst' row for agreements naming an unknown school.
CREATE OR REPLACE TABLE dim_skole AS
SELECT institutionsnummer, navn AS skole, row_number() OVER (ORDER BY institutionsnummer) AS sortering
FROM stg_laerepladsen__skole
UNION ALL
SELECT 'Uoplyst', 'Uoplyst', 1000000
ORDER BY sortering;
