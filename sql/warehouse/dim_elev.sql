-- Grain: one row per student record: the CPR pseudonym and the attributes derived from the CPR
-- number at landing (birth date, sex). Several records of one person share the pseudonym.
CREATE OR REPLACE TABLE dim_elev AS
SELECT elev_id, elev_pseudonym, foedselsdato, coalesce(koen, 'Uoplyst') AS koen
FROM stg_laerepladsen__elev;
-- No ORDER BY: nothing downstream depends on row order (the cubes aggregate), and sorting
-- the whole table was a fifth of the warehouse build at 100x national scale.
