-- One database per service: no service reads another's tables.
-- Two roles per service (issue 11 item 5): isp_<service>_owner owns the database and its public schema: the
-- service migrates (and the audit service installs its append-only triggers) as it, at start, through
-- ISP_<SERVICE>_MIGRATION_DATABASE_URL. isp_<service> is the runtime role the service serves as
-- (ISP_<SERVICE>_DATABASE_URL): it owns nothing, and after every upgrade isp_common.pgroles grants it exactly
-- the privileges declared for its service. Only these two roles may connect to the database. The superuser of
-- the postgres container is for administration only.
-- Passwords come from the postgres container's environment (psql's \getenv): ISP_<SERVICE>_OWNER_DB_PASSWORD
-- and ISP_<SERVICE>_DB_PASSWORD. The entrypoint runs this with ON_ERROR_STOP: a missing one stops the init.
CREATE DATABASE isp_referrals;
CREATE DATABASE isp_register;
CREATE DATABASE isp_notifications;
CREATE DATABASE isp_audit;

\getenv referrals_owner_password ISP_REFERRALS_OWNER_DB_PASSWORD
\getenv referrals_password ISP_REFERRALS_DB_PASSWORD
CREATE ROLE isp_referrals_owner LOGIN PASSWORD :'referrals_owner_password';
CREATE ROLE isp_referrals LOGIN PASSWORD :'referrals_password';
ALTER DATABASE isp_referrals OWNER TO isp_referrals_owner;
REVOKE ALL ON DATABASE isp_referrals FROM PUBLIC;
GRANT CONNECT ON DATABASE isp_referrals TO isp_referrals_owner, isp_referrals;
\connect isp_referrals
REVOKE CREATE ON SCHEMA public FROM PUBLIC;  -- already so from PostgreSQL 15; the owner keeps it
ALTER SCHEMA public OWNER TO isp_referrals_owner;

\getenv register_owner_password ISP_REGISTER_OWNER_DB_PASSWORD
\getenv register_password ISP_REGISTER_DB_PASSWORD
CREATE ROLE isp_register_owner LOGIN PASSWORD :'register_owner_password';
CREATE ROLE isp_register LOGIN PASSWORD :'register_password';
ALTER DATABASE isp_register OWNER TO isp_register_owner;
REVOKE ALL ON DATABASE isp_register FROM PUBLIC;
GRANT CONNECT ON DATABASE isp_register TO isp_register_owner, isp_register;
\connect isp_register
REVOKE CREATE ON SCHEMA public FROM PUBLIC;  -- already so from PostgreSQL 15; the owner keeps it
ALTER SCHEMA public OWNER TO isp_register_owner;

\getenv notifications_owner_password ISP_NOTIFICATIONS_OWNER_DB_PASSWORD
\getenv notifications_password ISP_NOTIFICATIONS_DB_PASSWORD
CREATE ROLE isp_notifications_owner LOGIN PASSWORD :'notifications_owner_password';
CREATE ROLE isp_notifications LOGIN PASSWORD :'notifications_password';
ALTER DATABASE isp_notifications OWNER TO isp_notifications_owner;
REVOKE ALL ON DATABASE isp_notifications FROM PUBLIC;
GRANT CONNECT ON DATABASE isp_notifications TO isp_notifications_owner, isp_notifications;
\connect isp_notifications
REVOKE CREATE ON SCHEMA public FROM PUBLIC;  -- already so from PostgreSQL 15; the owner keeps it
ALTER SCHEMA public OWNER TO isp_notifications_owner;

\getenv audit_owner_password ISP_AUDIT_OWNER_DB_PASSWORD
\getenv audit_password ISP_AUDIT_DB_PASSWORD
CREATE ROLE isp_audit_owner LOGIN PASSWORD :'audit_owner_password';
CREATE ROLE isp_audit LOGIN PASSWORD :'audit_password';
ALTER DATABASE isp_audit OWNER TO isp_audit_owner;
REVOKE ALL ON DATABASE isp_audit FROM PUBLIC;
GRANT CONNECT ON DATABASE isp_audit TO isp_audit_owner, isp_audit;
\connect isp_audit
REVOKE CREATE ON SCHEMA public FROM PUBLIC;  -- already so from PostgreSQL 15; the owner keeps it
ALTER SCHEMA public OWNER TO isp_audit_owner;
