-- +goose Up
-- SFTP: a partner's settings (sessions cap, password hash, its own server
-- for pulls and pushes) as JSON, and its authorised public keys, one row per
-- uploader. A key belongs to one partner only: a fingerprint is unique.
ALTER TABLE partners ADD COLUMN sftp text NOT NULL DEFAULT '{}';

CREATE TABLE partner_keys (
    partner_id  text NOT NULL REFERENCES partners (id),
    name        text NOT NULL CHECK (name <> ''),
    fingerprint text NOT NULL UNIQUE CHECK (fingerprint LIKE 'SHA256:%'),
    public_key  text NOT NULL,
    PRIMARY KEY (partner_id, name)
);

-- Remote files taken by a pull, so that none is processed twice, across
-- restarts and instances: claimed, then downloaded and handed to intake,
-- then moved or deleted on the remote side.
CREATE TABLE remote_files (
    partner_id  text NOT NULL REFERENCES partners (id),
    remote_path text NOT NULL,
    size        bigint NOT NULL,
    mtime       timestamptz NOT NULL,
    sha256      bytea,
    state       text NOT NULL DEFAULT 'claimed' CHECK (state IN ('claimed', 'taken', 'done')),
    file_id     bigint,
    last_error  text,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    done_at     timestamptz,
    PRIMARY KEY (partner_id, remote_path, size, mtime)
);

-- Files pushed to partners' servers: one row per local file, with the one
-- remote name it is delivered under.
CREATE TABLE deliveries (
    id          bigserial PRIMARY KEY,
    partner_id  text NOT NULL REFERENCES partners (id),
    local_path  text NOT NULL,
    remote_name text NOT NULL,
    size        bigint NOT NULL,
    sha256      bytea NOT NULL,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered')),
    attempts    int NOT NULL DEFAULT 0,
    next_at     timestamptz NOT NULL DEFAULT now(),
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    UNIQUE (partner_id, remote_name),
    UNIQUE (partner_id, local_path)
);

-- +goose Down
DROP TABLE deliveries;
DROP TABLE remote_files;
DROP TABLE partner_keys;
ALTER TABLE partners DROP COLUMN sftp;
