-- mod_jpki account store (docs/accounts.md). Portable SQL: the same file
-- creates the schema in SQLite 3 and PostgreSQL 12+.
--   sqlite3 /var/lib/apache2/jpki/accounts.db < conf/jpki-schema.sql
--   psql -v ON_ERROR_STOP=1 -d jpki -f conf/jpki-schema.sql
-- Times are ISO 8601 UTC strings written by the module
-- (2026-11-24T03:20:00.123Z); serials are normalised
-- "<issuer key id>:<serial>" in lowercase hex.

CREATE TABLE jpki_account (
    account          VARCHAR(128) PRIMARY KEY,   -- the site's account id (REMOTE_USER)
    platform_user_id VARCHAR(256) UNIQUE,        -- the PF's stable user id (survives renewals)
    birth_date       CHAR(10),                   -- YYYY-MM-DD from the signing certificate; NULL = unknown
    created_at       VARCHAR(32) NOT NULL
);

-- Every certificate serial ever linked to an account: renewals add rows,
-- nothing is overwritten.
CREATE TABLE jpki_serial (
    serial      VARCHAR(110) PRIMARY KEY,        -- one row per serial, even when two logins race
    account     VARCHAR(128) NOT NULL REFERENCES jpki_account (account),
    cert_type   VARCHAR(4) NOT NULL,             -- auth | sign
    predecessor VARCHAR(110),                    -- the serial this one renewed, NULL for the first
    first_seen  VARCHAR(32) NOT NULL,
    last_seen   VARCHAR(32) NOT NULL
);

CREATE INDEX jpki_serial_account ON jpki_serial (account);

-- The last re-check of each account by jpki-recheck (docs/recheck.md).
-- The module reads it at login (JPKI_RECHECK_CATEGORY, JPKI_RECHECK_AT).
-- IF NOT EXISTS: running this file again on an existing database (from a
-- release before jpki-recheck) adds only this table; the CREATE TABLE
-- statements above then fail harmlessly in sqlite3 (use the one statement
-- in docs/accounts.md "Upgrading" instead with psql -v ON_ERROR_STOP=1).
CREATE TABLE IF NOT EXISTS jpki_recheck (
    account    VARCHAR(128) PRIMARY KEY REFERENCES jpki_account (account) ON DELETE CASCADE,
    category   VARCHAR(32) NOT NULL,             -- unchanged | renewed | name_or_address_changed | ...
    status     VARCHAR(16) NOT NULL,             -- good | revoked | expired | unknown
    reason     VARCHAR(40),                      -- RFC 5280 reason, or why there was no answer
    checked_at VARCHAR(32) NOT NULL
);
