-- pgsluice_get_password.sql — the function pgsluice's authquery module calls
-- to learn a role's password verifier:
--
--     SELECT p_password FROM public.pgsluice_get_password($1)
--
-- Load it as a superuser into the database named by the module's `dbname`
-- setting (default "postgres"):
--
--     psql -U postgres -d postgres -f pgsluice_get_password.sql
--
-- then give the role pgsluice_auth a password and keep that password in
-- pgsluice's vault (the module's `password_from`):
--
--     ALTER ROLE pgsluice_auth PASSWORD '...';   -- or \password pgsluice_auth
--
-- Running the file again is harmless: it replaces the function and keeps the
-- role as it is.
--
-- What it exposes: for one role name, the stored verifier from pg_shadow
-- (normally "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>", or
-- "md5..." for roles whose password was set with MD5), which is exactly what
-- pgsluice needs to authenticate that role's clients itself.  A verifier is
-- not a password, but whoever holds it can run a dictionary attack on it, so
-- it is as sensitive as pg_authid itself: only pgsluice_auth may call the
-- function, and pgsluice_auth should be able to do nothing else.
--
-- The function returns exactly one row for every name, so the answer never
-- says more than pgsluice needs.  p_password is NULL (pgsluice refuses the
-- login, as for an unknown role) when:
--   - there is no such role;
--   - the role cannot log in (rolcanlogin false): pg_shadow lists only roles
--     that can, so such a role is simply not found;
--   - its password has expired (rolvaliduntil in the past): PostgreSQL itself
--     refuses a password login then;
--   - it is a superuser.  Superusers are kept out of the pooler on purpose: a
--     superuser login through pgsluice would rest on a verifier read over the
--     network by a low-privilege role, and anyone who gets hold of
--     pgsluice_auth's password or of pgsluice's cache could then mount an
--     offline attack on a superuser's verifier.  Superusers should connect to
--     PostgreSQL directly (or through a pool with its own credentials).
--
-- Why SECURITY DEFINER: pg_shadow is readable by superusers only.  The
-- function runs with the rights of its owner (the superuser who loads this
-- file), so pgsluice_auth needs no access to the catalog itself.
--
-- Why SET search_path = pg_catalog, pg_temp: a SECURITY DEFINER function runs
-- with its owner's rights, so every name it uses must resolve to the system
-- catalogs and operators, never to an object a caller created in a schema on
-- its search path (pg_temp listed last keeps temporary objects from shadowing
-- anything).  pgsluice also pins the search_path of its own connections.

DO $$
BEGIN
	-- The function must belong to a superuser to read pg_shadow.
	IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
		RAISE EXCEPTION 'load pgsluice_get_password.sql as a superuser';
	END IF;
	-- The role pgsluice connects as: it can log in and call the function,
	-- nothing more (no password here: set one yourself, see above).
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pgsluice_auth') THEN
		CREATE ROLE pgsluice_auth LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE
			NOINHERIT NOREPLICATION NOBYPASSRLS;
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION public.pgsluice_get_password(p_user text, OUT p_password text)
	RETURNS text
	LANGUAGE sql
	STABLE
	STRICT
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
	-- A scalar subquery: one row, NULL when nothing qualifies.  The name is
	-- compared as given: a name longer than a role name can be matches no
	-- role (PostgreSQL would truncate it; pgsluice refuses it instead).
	SELECT (SELECT s.passwd
	        FROM pg_catalog.pg_shadow AS s
	        WHERE s.usename OPERATOR(pg_catalog.=) p_user
	          AND NOT s.usesuper
	          AND (s.valuntil IS NULL OR s.valuntil OPERATOR(pg_catalog.>) pg_catalog.now()))
$$;

COMMENT ON FUNCTION public.pgsluice_get_password(text) IS
	'pgsluice authquery: the password verifier of a role that may log in through pgsluice (NULL otherwise)';

-- Functions are executable by PUBLIC by default: take that away, then let
-- pgsluice_auth (and only it) call this one.
REVOKE ALL ON FUNCTION public.pgsluice_get_password(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.pgsluice_get_password(text) TO pgsluice_auth;
