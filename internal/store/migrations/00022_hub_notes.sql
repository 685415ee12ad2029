-- +goose Up
-- The hub's legal mentions, printed on every document it issues (EN 16931
-- BT-22) in the document's language: a JSON object of lists by language
-- ({"en": [...], "fr": [...]}); English stands in for a language not given.
ALTER TABLE hub ADD COLUMN notes text NOT NULL DEFAULT '{}';
-- +goose Down
ALTER TABLE hub DROP COLUMN notes;
