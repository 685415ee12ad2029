-- +goose Up
-- An upload is recognised as the same upload across retries by its key (the
-- intake job that carries it), not by its bytes: a retry after the commit
-- finds its own file record and only finishes what is left (ack, inbox).
ALTER TABLE files ADD COLUMN upload_key text;
CREATE UNIQUE INDEX files_partner_upload_key ON files (partner_id, upload_key) WHERE upload_key IS NOT NULL;
-- Content is posted once per partner: two uploads of the same bytes each get
-- their own record; the one checked second, under the reseller lock, finds
-- the other posted and becomes its duplicate.
DROP INDEX files_partner_sha256_key;
CREATE UNIQUE INDEX files_partner_sha256_key ON files (partner_id, sha256) WHERE state = 'posted';
CREATE INDEX files_partner_sha256_idx ON files (partner_id, sha256);
-- +goose Down
DROP INDEX files_partner_sha256_idx;
DROP INDEX files_partner_sha256_key;
CREATE UNIQUE INDEX files_partner_sha256_key ON files (partner_id, sha256) WHERE state NOT IN ('duplicate', 'rejected');
DROP INDEX files_partner_upload_key;
ALTER TABLE files DROP COLUMN upload_key;
