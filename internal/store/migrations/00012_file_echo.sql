-- +goose Up
-- A file's rejects file is made when the file is checked (its rows are read
-- once, for the check and the rejects) and kept in the archive, content-
-- addressed; the finishing transaction records it. Writing or rewriting the
-- ack never reads the upload again. rendered is false for files checked
-- before this (their rejects are made from the upload, as then).
ALTER TABLE files ADD COLUMN rendered boolean NOT NULL DEFAULT false;
ALTER TABLE files ADD COLUMN rejects_sha256 bytea CHECK (length(rejects_sha256) = 32);
ALTER TABLE files ADD COLUMN warnings integer NOT NULL DEFAULT 0;
-- +goose Down
ALTER TABLE files DROP COLUMN warnings;
ALTER TABLE files DROP COLUMN rejects_sha256;
ALTER TABLE files DROP COLUMN rendered;
