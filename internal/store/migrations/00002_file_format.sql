-- +goose Up
-- How a reseller's files are written (delimiter, encoding, number and date
-- formats, title lines), as canonical JSON written by `clearhouse apply`.
ALTER TABLE resellers ADD COLUMN file_format text NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE resellers DROP COLUMN file_format;
