-- Grain: one row per (status date, student): the students with a training agreement running
-- on the status date, as known at the release cut-off, with the attributes the stock cubes
-- break them down by. Shared by cube_frafvurd.sql and cube_frafafbrud.sql.
--
-- As known at the cut-off: each agreement's version valid at $cutoff (from the history), and
-- only agreements created before it. Running on day d: startdato <= d <= the actual end
-- (ophoert_dato), or the planned end while no end is registered. A student with several
-- running agreements counts once, with the most recently started one.
-- The current assessment on d is the latest registered before the end of d (Europe/Copenhagen)
-- and before the cut-off; IKKE_ANGIVET and no assessment both give 'Ikke vurderet'.
-- Parameters: $cutoff (TIMESTAMPTZ), $udgivelse (DATE).
CREATE OR REPLACE TEMP TABLE elevbestand AS
WITH aftaler AS (
    SELECT * EXCLUDE (rn) FROM (
        SELECT h.*, row_number() OVER (
            PARTITION BY h.aftale_id
            ORDER BY (h.gyldig_fra < CAST($cutoff AS TIMESTAMPTZ)) DESC,
                     CASE WHEN h.gyldig_fra < CAST($cutoff AS TIMESTAMPTZ) THEN h.gyldig_fra END DESC,
                     h.gyldig_fra ASC) AS rn
        FROM fct_aftale_historik AS h
        WHERE h.oprettet < CAST($cutoff AS TIMESTAMPTZ)
    ) WHERE rn = 1
),
datoer AS (SELECT DISTINCT statusdato FROM status_perioder),
loebende AS (
    SELECT * EXCLUDE (rn) FROM (
        SELECT d.statusdato, a.*, e.elev_pseudonym, e.foedselsdato, e.koen,
               row_number() OVER (PARTITION BY d.statusdato, e.elev_pseudonym
                                  ORDER BY a.startdato DESC, a.aftale_id DESC) AS rn
        FROM datoer AS d
        JOIN aftaler AS a
          ON a.startdato <= d.statusdato AND d.statusdato <= coalesce(a.ophoert_dato, a.slutdato)
        JOIN dim_elev AS e ON e.elev_id = a.elev_id
    ) WHERE rn = 1
),
vurderinger AS (
    SELECT v.aftale_id, v.risiko, v.dato, v.registreret,
           lead(v.registreret) OVER (PARTITION BY v.aftale_id ORDER BY v.registreret, v.vurdering_id)
               AS naeste
    FROM fct_frafaldsvurdering AS v
    WHERE v.registreret < CAST($cutoff AS TIMESTAMPTZ)
)
SELECT
    l.statusdato,
    l.elev_pseudonym AS individ,
    u.uddannelse,
    vs.region,
    vs.kommune,
    coalesce(sk.skole, 'Uoplyst') AS skole,
    coalesce(sk.institutionsnummer, 'Uoplyst') AS institutionsnummer,
    l.koen,
    CASE
        WHEN l.foedselsdato IS NULL OR l.foedselsdato > l.statusdato THEN 'Uoplyst'
        WHEN date_sub('year', l.foedselsdato, l.statusdato) < 20 THEN 'Under 20 år'
        WHEN date_sub('year', l.foedselsdato, l.statusdato) < 25 THEN '20-24 år'
        WHEN date_sub('year', l.foedselsdato, l.statusdato) < 30 THEN '25-29 år'
        WHEN date_sub('year', l.foedselsdato, l.statusdato) < 40 THEN '30-39 år'
        ELSE '40 år og derover'
    END AS aldersgruppe,
    CASE v.risiko WHEN 'LAV' THEN 'Lav' WHEN 'MIDDEL' THEN 'Middel' WHEN 'HOEJ' THEN 'Høj'
                  ELSE 'Ikke vurderet' END AS frafaldsrisiko,
    CASE
        WHEN v.risiko IS NULL OR v.risiko = 'IKKE_ANGIVET' THEN 'Ingen vurdering'
        WHEN date_sub('month', v.dato, l.statusdato) < 3 THEN 'Under 3 måneder'
        WHEN date_sub('month', v.dato, l.statusdato) < 6 THEN '3-5 måneder'
        WHEN date_sub('month', v.dato, l.statusdato) < 12 THEN '6-11 måneder'
        ELSE '12 måneder og derover'
    END AS alder_af_vurdering,
    (l.ophoert_aarsag = 'AFBRUDT' AND l.ophoert_dato > l.statusdato
        AND l.ophoert_dato <= CAST(l.statusdato + INTERVAL 6 MONTH AS DATE)) AS afbrudt_6m
FROM loebende AS l
JOIN dim_uddannelse AS u ON u.uddannelse_kode = l.uddannelse_kode
JOIN dim_virksomhed AS vs ON vs.virksomhed_id = l.virksomhed_id
LEFT JOIN dim_skole AS sk ON sk.institutionsnummer = l.institutionsnummer
LEFT JOIN vurderinger AS v
  ON v.aftale_id = l.aftale_id
 AND v.registreret < CAST(l.statusdato + INTERVAL 1 DAY AS TIMESTAMPTZ)
 AND (v.naeste IS NULL OR v.naeste >= CAST(l.statusdato + INTERVAL 1 DAY AS TIMESTAMPTZ))
ORDER BY l.statusdato, individ;
