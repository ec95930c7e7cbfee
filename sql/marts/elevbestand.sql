-- Grain: one row per (status date, combination of the attributes the stock cubes break
-- students down by), with `antal` students and `antal_afbrudt` of them whose agreement ended
-- AFBRUDT within six months after the status date. Shared by cube_frafvurd.sql and
-- cube_frafafbrud.sql; every student running on a status date is in exactly one row of it.
--
-- Semantics:
-- * As known at the cut-off: each agreement's version valid at $cutoff (from the history), and
--   only agreements created before it.
-- * A student is a person (the CPR pseudonym), however many student records they have.
-- * Running on day d: startdato <= d <= the actual end (ophoert_dato), or the planned end while
--   no end is registered. A student with several running agreements counts once, with the most
--   recently started one (ties: the highest aftale_id).
-- * The current assessment on d is the latest registered before the end of d
--   (Europe/Copenhagen: the connection's TimeZone) and before the cut-off; IKKE_ANGIVET and no
--   assessment both give 'Ikke vurderet'.
--
-- Why it is built from intervals: a stock is a count over (status date × student). Joining
-- every status date to every running student materialises tens of millions of rows at 100x
-- national scale (and DuckDB's window functions over them do not spill). Instead, each
-- student's timeline is cut into pieces on which the counted agreement and the current
-- assessment are constant: the counted agreement comes from the elementary intervals between
-- the student's own start and end dates, the assessment from the dates it was registered. Both
-- are per-agreement work. Only the last step meets the status dates, and it streams straight
-- into an aggregate. Parameters: $cutoff (TIMESTAMPTZ), $udgivelse (DATE).
--
-- Seven statements, each a table DuckDB can spill to disk (six TEMP, then the stock itself, a
-- warehouse table: the asset elevbestand, built once per release and read by both stock cubes;
-- transforms/cubes.py build_stock): one query holding all of them in memory at once needed
-- over 1 GB at 10x scale and ran out of memory under that limit.
CREATE OR REPLACE TEMP TABLE _bestand_aftaler AS
SELECT * EXCLUDE (rn) FROM (
    SELECT h.*, e.elev_pseudonym AS elev, coalesce(h.ophoert_dato, h.slutdato) AS slut,
           row_number() OVER (
               PARTITION BY h.aftale_id
               ORDER BY (h.gyldig_fra < CAST($cutoff AS TIMESTAMPTZ)) DESC,
                        CASE WHEN h.gyldig_fra < CAST($cutoff AS TIMESTAMPTZ) THEN h.gyldig_fra END DESC,
                        h.gyldig_fra ASC) AS rn
    FROM fct_aftale_historik AS h
    JOIN dim_elev AS e ON e.elev_id = h.elev_id
    WHERE h.oprettet < CAST($cutoff AS TIMESTAMPTZ)
) WHERE rn = 1 AND startdato <= slut;

CREATE OR REPLACE TEMP TABLE _bestand_valgt AS
-- NOT MATERIALIZED: read four times below, DuckDB otherwise copies the whole table into a
-- CTE first (at 100x national scale 7.7M rows, and the statement's peak memory reached the
-- 4 GB limit).
WITH aftaler AS NOT MATERIALIZED (SELECT * FROM _bestand_aftaler),
-- Most students have one agreement: it is counted on all of [startdato, slut]. Only the others
-- need the pieces below (at 10x national scale 13 % of students).
flere AS (SELECT elev FROM aftaler GROUP BY elev HAVING count(*) > 1),
-- The student's own breakpoints: every day on which one of their agreements starts or the day
-- after one ends. Between two consecutive breakpoints the set of running agreements is fixed.
graenser AS (
    SELECT a.elev, a.startdato AS b FROM aftaler AS a SEMI JOIN flere AS f ON f.elev = a.elev
    UNION
    SELECT a.elev, a.slut + 1 FROM aftaler AS a SEMI JOIN flere AS f ON f.elev = a.elev
),
stykker AS (
    SELECT elev, b AS fra, lead(b) OVER (PARTITION BY elev ORDER BY b) - 1 AS til
    FROM graenser
)
SELECT a.elev, a.startdato AS fra, a.slut AS til, a.aftale_id
FROM aftaler AS a ANTI JOIN flere AS f ON f.elev = a.elev
UNION ALL
-- The counted agreement on each piece: the most recently started of those running on it.
SELECT s.elev, s.fra, s.til, arg_max(a.aftale_id, (a.startdato, a.aftale_id)) AS aftale_id
FROM stykker AS s
JOIN aftaler AS a ON a.elev = s.elev AND a.startdato <= s.fra AND s.fra <= a.slut
WHERE s.til IS NOT NULL
GROUP BY s.elev, s.fra, s.til;

CREATE OR REPLACE TEMP TABLE _bestand_vurderingsforloeb AS
WITH aftaler AS (SELECT * FROM _bestand_aftaler),
-- Each assessment is current from the local day it was registered until the day before the
-- local day of the next one (one registered later the same day replaces it at once: an empty
-- interval). Before an agreement's first assessment it has none.
vurderinger AS (
    SELECT v.aftale_id, v.risiko, v.dato, CAST(v.registreret AS DATE) AS fra,
           lead(CAST(v.registreret AS DATE)) OVER (
               PARTITION BY v.aftale_id ORDER BY v.registreret, v.vurdering_id) - 1 AS til
    FROM fct_frafaldsvurdering AS v
    WHERE v.registreret < CAST($cutoff AS TIMESTAMPTZ)
),
vurderingsforloeb AS (
    SELECT aftale_id, risiko, dato, fra, til FROM vurderinger WHERE til IS NULL OR fra <= til
    UNION ALL
    SELECT a.aftale_id, NULL, NULL, DATE '0001-01-01', min(v.fra) - 1
    FROM aftaler AS a LEFT JOIN vurderinger AS v ON v.aftale_id = a.aftale_id
    GROUP BY a.aftale_id
)
SELECT * FROM vurderingsforloeb;

-- What the count needs of each counted agreement, as narrow keys (captions are joined after
-- counting): once per agreement, not once per piece of it. The birthdays are computed here,
-- per agreement, and the joins to the dimensions build on these few columns.
CREATE OR REPLACE TEMP TABLE _bestand_egenskaber AS
SELECT a.aftale_id,
       a.uddannelse_kode,
       coalesce(k.sortering, 9999) AS kommune_nr,
       coalesce(sk.sortering, 1000000) AS skole_nr,
       e.foedselsdato, e.koen,
       -- The days the student turns 20, 25, 30 and 40: d < x + n years is exactly
       -- date_sub('year', x, d) < n (checked for every pair of days 1960-2031), and a
       -- comparison is far cheaper per row.
       CAST(e.foedselsdato + INTERVAL 20 YEAR AS DATE) AS fyldt_20,
       CAST(e.foedselsdato + INTERVAL 25 YEAR AS DATE) AS fyldt_25,
       CAST(e.foedselsdato + INTERVAL 30 YEAR AS DATE) AS fyldt_30,
       CAST(e.foedselsdato + INTERVAL 40 YEAR AS DATE) AS fyldt_40,
       CASE WHEN a.ophoert_aarsag = 'AFBRUDT' THEN a.ophoert_dato END AS afbrudt_dato
FROM _bestand_aftaler AS a
JOIN dim_elev AS e ON e.elev_id = a.elev_id
JOIN dim_virksomhed AS vs ON vs.virksomhed_id = a.virksomhed_id
LEFT JOIN dim_kommune AS k ON k.kommune = vs.kommune AND k.region = vs.region
LEFT JOIN dim_skole AS sk ON sk.institutionsnummer = a.institutionsnummer;

-- Pieces on which the counted agreement and its current assessment are both fixed, with
-- everything the count needs. The assessment becomes 3, 6 and 12 months old on vurderet_3,
-- _6 and _12 (a comparison, as the birthdays above).
CREATE OR REPLACE TEMP TABLE _bestand_segmenter AS
SELECT greatest(g.fra, coalesce(w.fra, g.fra)) AS fra,
       least(g.til, coalesce(w.til, g.til)) AS til,
       a.uddannelse_kode, a.kommune_nr, a.skole_nr, a.foedselsdato, a.koen, w.risiko,
       a.fyldt_20, a.fyldt_25, a.fyldt_30, a.fyldt_40,
       CASE WHEN w.risiko IS NULL OR w.risiko = 'IKKE_ANGIVET' THEN NULL
            ELSE w.dato END AS vurderet,
       CAST(w.dato + INTERVAL 3 MONTH AS DATE) AS vurderet_3,
       CAST(w.dato + INTERVAL 6 MONTH AS DATE) AS vurderet_6,
       CAST(w.dato + INTERVAL 12 MONTH AS DATE) AS vurderet_12,
       a.afbrudt_dato
FROM _bestand_valgt AS g
JOIN _bestand_vurderingsforloeb AS w
  ON w.aftale_id = g.aftale_id AND w.fra <= g.til AND (w.til IS NULL OR g.fra <= w.til)
JOIN _bestand_egenskaber AS a ON a.aftale_id = g.aftale_id;

-- The combinations of the pieces' attributes that do not depend on the status date, each with
-- a number: the count below groups by that number instead of five columns (half its time at
-- 10x national scale), and the attributes are joined back to the counted rows.
CREATE OR REPLACE TEMP TABLE _bestand_grupper AS
SELECT CAST(row_number() OVER () AS INTEGER) AS gruppe, *
FROM (SELECT DISTINCT uddannelse_kode, kommune_nr, skole_nr, koen, risiko FROM _bestand_segmenter);

CREATE OR REPLACE TABLE elevbestand AS
WITH datoer AS (
    SELECT statusdato, CAST(statusdato + INTERVAL 6 MONTH AS DATE) AS seks_maaneder_efter,
           year(statusdato) * 12 + month(statusdato) AS maaned
    FROM (SELECT DISTINCT statusdato FROM status_perioder)
),
-- Each piece once per calendar month it touches (within the months that have status dates),
-- so that it meets the status dates by an equi-join on the month and the exact condition
-- below: the range join it replaces sorted all pieces with their payload, which at 100x
-- national scale outgrew the memory limit.
maanedsstykker AS (
    SELECT s.fra, s.til, g.gruppe, s.foedselsdato, s.fyldt_20, s.fyldt_25, s.fyldt_30,
           s.fyldt_40, s.vurderet, s.vurderet_3, s.vurderet_6, s.vurderet_12, s.afbrudt_dato,
           unnest(range(
               -- no status dates (a release before the first): an empty range, not every
               -- month of every piece (greatest and least skip NULLs)
               greatest(year(s.fra) * 12 + month(s.fra),
                        coalesce((SELECT min(maaned) FROM datoer), 2147483647)),
               least(year(s.til) * 12 + month(s.til),
                     coalesce((SELECT max(maaned) FROM datoer), 0)) + 1
           )) AS maaned
    FROM _bestand_segmenter AS s
    JOIN _bestand_grupper AS g
      ON g.uddannelse_kode IS NOT DISTINCT FROM s.uddannelse_kode
     AND g.kommune_nr IS NOT DISTINCT FROM s.kommune_nr
     AND g.skole_nr IS NOT DISTINCT FROM s.skole_nr
     AND g.koen IS NOT DISTINCT FROM s.koen
     AND g.risiko IS NOT DISTINCT FROM s.risiko
),
-- The only step that meets the status dates: (status date × running student) rows stream
-- into this aggregate and are never stored. Age group and assessment age depend on the status
-- date, so they are computed here, as small codes.
optalt AS (
    SELECT
        d.statusdato, s.gruppe,
        CASE
            WHEN s.foedselsdato IS NULL OR s.foedselsdato > d.statusdato THEN 0
            WHEN d.statusdato < s.fyldt_20 THEN 1
            WHEN d.statusdato < s.fyldt_25 THEN 2
            WHEN d.statusdato < s.fyldt_30 THEN 3
            WHEN d.statusdato < s.fyldt_40 THEN 4
            ELSE 5
        END AS alder_nr,
        CASE
            WHEN s.vurderet IS NULL THEN 0
            WHEN d.statusdato < s.vurderet_3 THEN 1
            WHEN d.statusdato < s.vurderet_6 THEN 2
            WHEN d.statusdato < s.vurderet_12 THEN 3
            ELSE 4
        END AS vurdering_nr,
        count(*) AS antal,
        count(*) FILTER (WHERE s.afbrudt_dato > d.statusdato
                         AND s.afbrudt_dato <= d.seks_maaneder_efter) AS antal_afbrudt
    FROM datoer AS d
    JOIN maanedsstykker AS s
      ON s.maaned = d.maaned AND s.fra <= d.statusdato AND d.statusdato <= s.til
    GROUP BY ALL
)
SELECT
    o.statusdato,
    u.uddannelse,
    k.region,
    k.kommune,
    sk.skole,
    sk.institutionsnummer,
    g.koen,
    ['Uoplyst', 'Under 20 år', '20-24 år', '25-29 år', '30-39 år', '40 år og derover'][o.alder_nr + 1]
        AS aldersgruppe,
    CASE g.risiko WHEN 'LAV' THEN 'Lav' WHEN 'MIDDEL' THEN 'Middel' WHEN 'HOEJ' THEN 'Høj'
                  ELSE 'Ikke vurderet' END AS frafaldsrisiko,
    ['Ingen vurdering', 'Under 3 måneder', '3-5 måneder', '6-11 måneder',
     '12 måneder og derover'][o.vurdering_nr + 1] AS alder_af_vurdering,
    o.antal,
    o.antal_afbrudt
FROM optalt AS o
JOIN _bestand_grupper AS g ON g.gruppe = o.gruppe
JOIN dim_uddannelse AS u ON u.uddannelse_kode = g.uddannelse_kode
JOIN dim_kommune AS k ON k.sortering = g.kommune_nr
JOIN dim_skole AS sk ON sk.sortering = g.skole_nr;

DROP TABLE _bestand_aftaler;
DROP TABLE _bestand_valgt;
DROP TABLE _bestand_vurderingsforloeb;
DROP TABLE _bestand_egenskaber;
DROP TABLE _bestand_segmenter;
DROP TABLE _bestand_grupper;
