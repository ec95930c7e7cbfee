-- Grain: one row per (status date, attribute combination) of the running stock, counted
-- (elevbestand.sql): the base that transforms/cubes.py aggregates into every cell of every
-- FRAFVURD view.
SELECT * EXCLUDE (antal_afbrudt) FROM elevbestand
