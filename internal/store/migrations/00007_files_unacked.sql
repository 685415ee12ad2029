-- +goose Up
-- Ingest acknowledges a partner's finished files not yet acked before each
-- new file: a partial index keeps that a probe, not a scan of every file
-- the partner ever sent (10,000 small files made it quadratic).
CREATE INDEX files_unacked_idx ON files (partner_id, id) WHERE acked_at IS NULL;
-- +goose Down
DROP INDEX files_unacked_idx;
