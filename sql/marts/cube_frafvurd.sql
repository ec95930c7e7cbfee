-- Grain: one row per (status date, student) of the running stock (elevbestand.sql), the base
-- that transforms/cubes.py aggregates into every cell of every FRAFVURD view.
SELECT * FROM elevbestand
