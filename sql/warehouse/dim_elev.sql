-- Grain: one row per student record: the CPR pseudonym and the attributes derived from the CPR
-- number at landing (birth date, sex). Several records of one person share the pseudonym.
CREATE OR REPLACE TABLE dim_elev AS
SELECT elev_id, elev_pseudonym, foedselsdato, coalesce(koen, 'Uoplyst') AS koen
FROM stg_laerepladsen__elev
ORDER BY elev_id;
