-- Grain: one row per municipality in the official table (reference/kommuner.csv, loaded as
-- ref_kommuner), plus one 'Uoplyst' row for workplaces whose municipality code is unknown.
CREATE OR REPLACE TABLE dim_kommune AS
SELECT kommunekode, kommune, regionskode, region, CAST(kommunekode AS INTEGER) AS sortering
FROM ref_kommuner
UNION ALL
SELECT NULL, 'Uoplyst', NULL, 'Uoplyst', 9999
ORDER BY sortering;
