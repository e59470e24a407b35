-- yakuba's role and database, beside Synapse's (compose.yaml, service postgres).
--
-- The postgres image runs this file once, on the first start with an empty data volume
-- (/docker-entrypoint-initdb.d), as
--   psql -v ON_ERROR_STOP=1 --username synapse --dbname synapse -f yakuba.sql
-- On a volume that already exists it does not run again: run that same command by hand
-- (synapse-compose/README.md, "An existing PostgreSQL volume").
--
-- The password is the compose secret yakuba_db_password (generate.py writes it once to
-- data/secrets/postgres/yakuba_password). It never appears on a command line: psql reads
-- the file into a variable, and :'password' quotes it as an SQL literal.

\set password `cat /run/secrets/yakuba_db_password`
SELECT :'password' = '' AS yakuba_no_password \gset
\if :yakuba_no_password
  DO $$ BEGIN RAISE EXCEPTION 'yakuba.sql: /run/secrets/yakuba_db_password is missing, empty or unreadable: the postgres user (uid 70) must own it, see synapse-compose/README.md'; END $$;
\endif

CREATE ROLE yakuba LOGIN PASSWORD :'password';
-- UTF8 from template0 (the cluster's C collation): yakuba's tables are created by yakuba
-- itself on its first start, in the public schema its owner may write to.
CREATE DATABASE yakuba OWNER yakuba ENCODING 'UTF8' TEMPLATE template0;

\unset password
