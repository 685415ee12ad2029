-- +goose Up
-- invoice_items.declaration_id in the collation of declarations.declaration_id
-- ("C", 00004). Compared across collations, the key's index could not be used
-- to find a declaration's items: every look-up read all of its reseller's
-- items (a run's catch-up and credit checks grew with every month billed).
ALTER TABLE invoice_items ALTER COLUMN declaration_id TYPE text COLLATE "C";
-- +goose Down
ALTER TABLE invoice_items ALTER COLUMN declaration_id TYPE text COLLATE "default";
