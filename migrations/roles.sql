-- Role separation on PostgreSQL (docs/security.md, "Role separation").
--
-- Two roles: the OWNER owns the schema and runs `flask onestop db upgrade`; the SERVICE role is
-- the one gunicorn and the scheduler connect as. The service role gets no DDL (it owns nothing,
-- so it cannot ALTER, DROP or disable a trigger, and it cannot CREATE in the schema) and no
-- UPDATE, DELETE or TRUNCATE on the append-only tables: the audit trail and the dossier clock
-- ledger. No table grants it TRUNCATE, REFERENCES or TRIGGER.
--
-- Run as the owner, after every `db upgrade` (new tables need their grants; the script can run
-- any number of times):
--   psql "postgresql://onestop_owner@host/onestop" -v ON_ERROR_STOP=1 \
--        -v service=onestop_app -f migrations/roles.sql
-- tests/test_roles.py runs this file against a real server and checks the refusals.

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"service";

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"service";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"service";

-- Append-only: the service appends and reads, nothing else.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, dossier_events FROM :"service";

-- The migration bookkeeping is read (readiness checks), never written, by the service.
REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM :"service";
