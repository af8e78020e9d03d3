-- Least privilege for MI Admin's application role (README, "Deploying to production").
--
-- The tables belong to an owner role that only runs `manage.py migrate`; the web, worker
-- and beat processes connect as the application role. Run this as the owner after every
-- migrate (it is idempotent):
--
--   psql "$OWNER_DATABASE_URL" -v app_role=mi_admin_app -f mi_admin/audit/sql/app_role_grants.sql
--
-- The application role may read and append to the audit trail and its checkpoints, never
-- UPDATE, DELETE or TRUNCATE them, and, not being the owner, cannot disable or drop the
-- triggers that refuse those statements either.
GRANT USAGE ON SCHEMA public TO :"app_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_role";
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
    ON audit_auditevent, audit_auditcheckpoint FROM :"app_role";
