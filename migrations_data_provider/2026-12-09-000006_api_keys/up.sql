-- Per-hotel API keys (`roompulse keys create|list|revoke`). The same table, with the same rows,
-- is in both modules' databases: each module checks the keys in its own database, so that it
-- runs without the other (README, "Keys"). `roompulse keys` writes to both.
--
-- A key is `rp_<id>_<secret>`: `id` is public (it is how `keys list` and `keys revoke` name a
-- key), the secret is kept only as its SHA-256. Nothing here gives the key back.
CREATE TABLE api_keys (
    id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
    name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    secret_sha256 bytea NOT NULL CHECK (length(secret_sha256) = 32),
    -- `read`, `ingest`, or both.
    scopes text[] NOT NULL CHECK (
        cardinality(scopes) >= 1 AND scopes <@ ARRAY['read', 'ingest']::text[]
    ),
    -- The hotels the key may read or write; NULL: every hotel. An empty array: none.
    hotels int4[],
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);

-- The processes keep the keys in memory and read them again every API_KEYS_REFRESH_MS; a
-- change (a key created or revoked) also wakes them at once through `roompulse_api_keys`.
-- `last_used_at` is left out: the processes write it themselves, at most once a minute a key.
CREATE FUNCTION roompulse_notify_api_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('roompulse_api_keys', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_notify
    AFTER INSERT OR DELETE OR UPDATE OF name, secret_sha256, scopes, hotels, revoked_at ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION roompulse_notify_api_keys();
