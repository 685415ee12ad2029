-- +goose Up
-- invoice_items is written a run's worth at a time (a row per billed
-- subscription-month and sale). Two of its three structures cost more on
-- each row than they give: the foreign key to invoice_lines (an index probe
-- per row; clearhouse ledger check proves every item has its line, and
-- every line sums its items) and the b-tree on (invoice_id, line_no) (the
-- items of a document are written together, in invoice id order: a BRIN
-- index finds them at almost no cost per row). The key that bills an item
-- once stays a unique b-tree.
ALTER TABLE invoice_items DROP CONSTRAINT invoice_items_invoice_id_line_no_fkey;
DROP INDEX invoice_items_invoice_idx;
CREATE INDEX invoice_items_invoice_brin ON invoice_items USING brin (invoice_id) WITH (pages_per_range = 16);
-- +goose Down
DROP INDEX invoice_items_invoice_brin;
CREATE INDEX invoice_items_invoice_idx ON invoice_items (invoice_id, line_no);
ALTER TABLE invoice_items ADD FOREIGN KEY (invoice_id, line_no) REFERENCES invoice_lines (invoice_id, line_no);
