-- +goose Up
-- The language a reseller's documents are written in (the PDF's words,
-- dates and numbers; the payment terms and reasons of the document):
-- English unless its billing profile says French, German or Dutch.
ALTER TABLE billing_profiles ADD COLUMN language text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'fr', 'de', 'nl'));
-- +goose Down
ALTER TABLE billing_profiles DROP COLUMN language;
