-- +goose Up
-- Pulls with complete: stable take a remote file once its size and mtime
-- have not changed for stable_for. What was seen, and since when, is kept
-- here so that any instance's next pull can decide, not only the one that
-- saw it first.
CREATE TABLE remote_observations (
    partner_id  text NOT NULL REFERENCES partners (id),
    remote_path text NOT NULL,
    size        bigint NOT NULL,
    mtime       timestamptz NOT NULL,
    since       timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_id, remote_path)
);
-- +goose Down
DROP TABLE remote_observations;
