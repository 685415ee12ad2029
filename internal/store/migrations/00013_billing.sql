-- +goose Up
-- Monthly billing: invoices and credit notes (documents), their lines, every
-- billed item (the sub-ledger of billing: one row per subscription-month,
-- sale or credit, keyed so that an item is billed once, ever), gapless
-- number counters, the periods billed per reseller and how credit settles
-- invoices. Documents, lines and items are immutable once written.

-- round_half_even rounds v to an integer, ties to even: the rounding of
-- money.LineAmount and money.PercentOf, so that the run computes in SQL what
-- ingest computes in Go. Inlined by the planner (one SQL expression).
-- +goose StatementBegin
CREATE FUNCTION round_half_even(v numeric) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (CASE WHEN abs(v - trunc(v)) = 0.5
                 THEN trunc(v) + CASE WHEN trunc(v) % 2 = 0 THEN 0 ELSE sign(v) END
                 ELSE round(v) END)::bigint
$$;
-- +goose StatementEnd

-- The counter of a document type and year. Taken with UPDATE … RETURNING in
-- the issuing transaction: a rollback gives the number back (a sequence
-- would not), and the row lock orders issuers, so numbers follow issue order.
CREATE TABLE document_counters (
    doc_type text NOT NULL CHECK (doc_type IN ('invoice', 'credit_note')),
    year     integer NOT NULL,
    last     integer NOT NULL CHECK (last >= 0),
    PRIMARY KEY (doc_type, year)
);

CREATE TABLE invoices (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number       text NOT NULL,
    doc_type     text NOT NULL CHECK (doc_type IN ('invoice', 'credit_note')),
    year         integer NOT NULL,
    seq          integer NOT NULL CHECK (seq > 0),
    reseller_id  text NOT NULL REFERENCES resellers (partner_id),
    period       date NOT NULL CHECK (extract(day FROM period) = 1), -- the billing month P
    currency     char(3) NOT NULL,
    issue_date   date NOT NULL,
    due_date     date,
    net          bigint NOT NULL CHECK (net >= 0),
    tax          bigint NOT NULL CHECK (tax >= 0),
    gross        bigint NOT NULL CHECK (gross = net + tax),
    prepaid      bigint NOT NULL CHECK (prepaid BETWEEN 0 AND gross),
    payable      bigint NOT NULL CHECK (payable = gross - prepaid),
    items_amount bigint NOT NULL, -- what its items cleared from (or restored to) unbilled
    entry_id     bigint NOT NULL REFERENCES journal_entries (id),
    reason       text NOT NULL DEFAULT '', -- a credit note's why
    -- how the document was made: 'run' (a billing run) or 'manual' (invoice credit)
    origin       text NOT NULL CHECK (origin IN ('run', 'manual')),
    document     jsonb NOT NULL, -- the document as issued (invoice.Document): every writer's input
    issued_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT invoices_number_key UNIQUE (number),
    CONSTRAINT invoices_type_year_seq_key UNIQUE (doc_type, year, seq),
    CHECK (doc_type = 'credit_note' OR due_date IS NOT NULL)
);
-- One invoice and one credit note per reseller, currency and period from a run.
CREATE UNIQUE INDEX invoices_run_key ON invoices (reseller_id, currency, period, doc_type) WHERE origin = 'run';
CREATE INDEX invoices_reseller_idx ON invoices (reseller_id, issue_date);

CREATE TABLE invoice_lines (
    invoice_id       bigint NOT NULL REFERENCES invoices (id),
    line_no          integer NOT NULL CHECK (line_no > 0),
    sku              text NOT NULL,
    name             text NOT NULL,
    publisher_id     text NOT NULL,
    billing_model    text NOT NULL CHECK (billing_model IN ('one_time', 'monthly', 'usage')),
    service_month    date NOT NULL,
    quantity         bigint NOT NULL CHECK (quantity > 0),
    unit_price       numeric(18,6) NOT NULL,
    net              bigint NOT NULL CHECK (net >= 0),
    items_amount     bigint NOT NULL, -- the sum of its items' amounts (net - items_amount went to hub:rounding)
    publisher_amount bigint NOT NULL,
    vat_category     text NOT NULL CHECK (vat_category IN ('S', 'AE', 'E')),
    vat_rate         numeric(7,4) NOT NULL,
    period_start     date NOT NULL,
    period_end       date NOT NULL CHECK (period_end >= period_start),
    credits_invoice  bigint REFERENCES invoices (id), -- a credit note line: the invoice it credits
    items            integer NOT NULL CHECK (items > 0),
    PRIMARY KEY (invoice_id, line_no)
);

-- Every billed item: a subscription-month (kind fee), a one_time or usage
-- declaration (kind sale), or the credit of an invoiced one (kind credit,
-- pointing at the item it credits). The key makes each billed once, ever:
-- a declaration's fee for a month, or its sale, is charged by one row and
-- credited by at most one. Bulk-written by the run (INSERT … SELECT).
CREATE TABLE invoice_items (
    invoice_id       bigint NOT NULL,
    line_no          integer NOT NULL,
    reseller_id      text NOT NULL,
    declaration_id   text NOT NULL,
    service_month    date NOT NULL,
    credit           boolean NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('fee', 'sale', 'credit')),
    quantity         bigint NOT NULL CHECK (quantity > 0),
    unit_price       numeric(18,6) NOT NULL,
    amount           bigint NOT NULL CHECK (amount >= 0),
    publisher_amount bigint NOT NULL CHECK (publisher_amount BETWEEN 0 AND amount),
    publisher_id     text NOT NULL,
    price_valid_from date NOT NULL,
    credited_invoice bigint, -- kind credit: the invoice whose item it credits
    CONSTRAINT invoice_items_billed_once PRIMARY KEY (reseller_id, declaration_id, service_month, credit),
    CHECK (credit = (kind = 'credit')),
    CHECK (credit = (credited_invoice IS NOT NULL)),
    FOREIGN KEY (invoice_id, line_no) REFERENCES invoice_lines (invoice_id, line_no)
);
CREATE INDEX invoice_items_invoice_idx ON invoice_items (invoice_id, line_no);

-- A period billed for a reseller and currency: written by the run even when
-- nothing was issued (a period with no items counts as billed), so periods
-- are billed in order and a rerun is a no-op.
CREATE TABLE billed_periods (
    reseller_id    text NOT NULL REFERENCES resellers (partner_id),
    currency       char(3) NOT NULL,
    period         date NOT NULL CHECK (extract(day FROM period) = 1),
    invoice_id     bigint REFERENCES invoices (id),
    credit_note_id bigint REFERENCES invoices (id),
    accrual_entry  bigint REFERENCES journal_entries (id),
    billed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (reseller_id, currency, period)
);

-- Credit applied to invoices: a credit note's amount settles the invoices
-- it credits, then the oldest open ones; what is left settles the next
-- invoices at issue (their prepaid amount). Insert-only.
CREATE TABLE settlements (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_id  bigint NOT NULL REFERENCES invoices (id),
    credit_id   bigint NOT NULL REFERENCES invoices (id),
    amount      bigint NOT NULL CHECK (amount > 0),
    settled_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX settlements_invoice_idx ON settlements (invoice_id);
CREATE INDEX settlements_credit_idx ON settlements (credit_id);

-- Issued documents never change: corrections are credit notes.
-- +goose StatementBegin
CREATE FUNCTION documents_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is immutable once issued: issue a credit note instead', TG_TABLE_NAME
        USING ERRCODE = '55000', CONSTRAINT = 'documents_immutable';
END $$;
-- +goose StatementEnd
CREATE TRIGGER invoices_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON invoices
    FOR EACH STATEMENT EXECUTE FUNCTION documents_immutable();
CREATE TRIGGER invoice_lines_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON invoice_lines
    FOR EACH STATEMENT EXECUTE FUNCTION documents_immutable();
CREATE TRIGGER invoice_items_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON invoice_items
    FOR EACH STATEMENT EXECUTE FUNCTION documents_immutable();
CREATE TRIGGER settlements_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON settlements
    FOR EACH STATEMENT EXECUTE FUNCTION documents_immutable();

-- +goose Down
DROP TABLE settlements;
DROP TABLE billed_periods;
DROP TABLE invoice_items;
DROP TABLE invoice_lines;
DROP TABLE invoices;
DROP TABLE document_counters;
DROP FUNCTION documents_immutable();
DROP FUNCTION round_half_even(numeric);
