-- +goose Up
-- Partners, catalogs, files, the ledger and the declarations sub-ledger.
-- Money is bigint minor units; unit prices are numeric(18,6). Never float.

CREATE TABLE partners (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    kind        text NOT NULL CHECK (kind IN ('reseller', 'publisher')),
    name        text NOT NULL,
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE resellers (
    partner_id        text PRIMARY KEY REFERENCES partners (id),
    oem_eligible      boolean NOT NULL,
    currency          char(3) NOT NULL,
    vat_treatment     text NOT NULL CHECK (vat_treatment IN ('standard', 'reverse_charge', 'exempt')),
    vat_rate          numeric(7,4) NOT NULL DEFAULT 0,
    vat_mention       text NOT NULL DEFAULT '',
    credit_limit      bigint NOT NULL CHECK (credit_limit >= 0),
    payment_method    text NOT NULL CHECK (payment_method IN ('wallet', 'pay_now')),
    iban              text,
    bic               text,
    mandate_id        text,
    mandate_signed_on date,
    file_policy       text NOT NULL CHECK (file_policy IN ('reject_file', 'accept_valid_rows')),
    CHECK (payment_method <> 'wallet' OR (iban IS NOT NULL AND mandate_id IS NOT NULL AND mandate_signed_on IS NOT NULL))
);

CREATE TABLE publishers (
    partner_id text PRIMARY KEY REFERENCES partners (id)
);

CREATE TABLE catalogs (
    reseller_id text NOT NULL REFERENCES resellers (partner_id),
    id          text NOT NULL,
    name        text NOT NULL,
    currency    char(3) NOT NULL,
    PRIMARY KEY (reseller_id, id)
);

-- A SKU is unique per reseller across its catalogs.
CREATE TABLE catalog_items (
    reseller_id   text NOT NULL,
    sku           text NOT NULL,
    catalog_id    text NOT NULL,
    publisher_id  text NOT NULL REFERENCES publishers (partner_id),
    publisher_sku text NOT NULL,
    name          text NOT NULL,
    billing_model text NOT NULL CHECK (billing_model IN ('one_time', 'monthly', 'usage')),
    tax_category  text NOT NULL,
    PRIMARY KEY (reseller_id, sku),
    FOREIGN KEY (reseller_id, catalog_id) REFERENCES catalogs (reseller_id, id)
);

-- Effective-dated prices; valid_to is inclusive, NULL means open-ended.
-- Non-overlap is checked by `clearhouse apply` before writing.
CREATE TABLE price_versions (
    reseller_id  text NOT NULL,
    sku          text NOT NULL,
    valid_from   date NOT NULL,
    valid_to     date,
    buy_price    numeric(18,6) NOT NULL CHECK (buy_price >= 0),
    resale_price numeric(18,6),
    share_kind   text NOT NULL CHECK (share_kind IN ('percent', 'absolute')),
    share_value  numeric(18,6) NOT NULL CHECK (share_value >= 0),
    PRIMARY KEY (reseller_id, sku, valid_from),
    FOREIGN KEY (reseller_id, sku) REFERENCES catalog_items (reseller_id, sku),
    CHECK (valid_to IS NULL OR valid_to >= valid_from),
    CHECK (share_kind <> 'percent' OR share_value <= 100),
    CHECK (share_kind <> 'absolute' OR share_value <= buy_price)
);

-- One row per received file. An upload whose content was already posted by the
-- same partner is recorded as its own row with state 'duplicate'.
CREATE TABLE files (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id    text NOT NULL REFERENCES partners (id),
    kind          text NOT NULL CHECK (kind IN ('declarations', 'customers')),
    name          text NOT NULL,
    size          bigint NOT NULL,
    sha256        bytea NOT NULL CHECK (length(sha256) = 32),
    state         text NOT NULL DEFAULT 'received'
                  CHECK (state IN ('received', 'processing', 'posted', 'rejected', 'duplicate', 'failed')),
    status        text CHECK (status IN ('ACCEPTED', 'PARTIAL', 'REJECTED', 'DUPLICATE')),
    duplicate_of  bigint REFERENCES files (id),
    uploader      text NOT NULL DEFAULT '',
    rows_total    integer NOT NULL DEFAULT 0,
    rows_accepted integer NOT NULL DEFAULT 0,
    rows_rejected integer NOT NULL DEFAULT 0,
    currency      char(3),
    amount_total  bigint NOT NULL DEFAULT 0,
    problem_count integer NOT NULL DEFAULT 0,
    last_error    text,
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    acked_at      timestamptz,
    CHECK ((state = 'duplicate') = (duplicate_of IS NOT NULL))
);
-- Idempotency key of intake: one live file per partner and content. A file
-- rejected whole posted nothing, so the same bytes may be sent again.
CREATE UNIQUE INDEX files_partner_sha256_key ON files (partner_id, sha256)
    WHERE state NOT IN ('duplicate', 'rejected');
CREATE INDEX files_partner_received_idx ON files (partner_id, received_at DESC);

CREATE TABLE file_problems (
    file_id  bigint NOT NULL REFERENCES files (id),
    seq      integer NOT NULL,
    line     integer NOT NULL,
    sheet    text NOT NULL DEFAULT '',
    col      text NOT NULL DEFAULT '',
    code     text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('error', 'warning')),
    scope    text NOT NULL CHECK (scope IN ('row', 'file')),
    value    text NOT NULL DEFAULT '',
    message  text NOT NULL,
    PRIMARY KEY (file_id, seq)
);

-- Ledger ------------------------------------------------------------------
-- Accounts: reseller:<id>:unbilled, reseller:<id>:receivable,
-- publisher:<id>:payable, hub:revenue, tax:vat_collected, bank:clearing; one per currency.
-- Balances are signed: debit positive, credit negative.
CREATE TABLE accounts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       text NOT NULL,
    currency   char(3) NOT NULL,
    partner_id text REFERENCES partners (id),
    balance    bigint NOT NULL DEFAULT 0,
    UNIQUE (code, currency)
);

CREATE TABLE journal_entries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text NOT NULL,
    payload_hash    bytea NOT NULL,
    kind            text NOT NULL,
    file_id         bigint REFERENCES files (id),
    description     text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT journal_entries_idempotency_key_key UNIQUE (idempotency_key)
);

CREATE TABLE postings (
    entry_id   bigint NOT NULL REFERENCES journal_entries (id),
    account_id bigint NOT NULL REFERENCES accounts (id),
    amount     bigint NOT NULL CHECK (amount <> 0),
    currency   char(3) NOT NULL,
    PRIMARY KEY (entry_id, account_id)
);

-- The ledger balances by constraint: at commit, every entry touched sums to
-- zero in each currency, and each posting's currency is its account's.
-- +goose StatementBegin
CREATE FUNCTION postings_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT p.currency, sum(p.amount) AS total INTO bad
      FROM postings p WHERE p.entry_id = NEW.entry_id
     GROUP BY p.currency HAVING sum(p.amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %: off by %', NEW.entry_id, bad.currency, bad.total
            USING ERRCODE = '23514', CONSTRAINT = 'postings_balanced';
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION postings_check_balanced();

-- +goose StatementBegin
CREATE FUNCTION postings_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET balance = balance + NEW.amount
     WHERE id = NEW.account_id AND currency = NEW.currency;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'posting to account % in % does not match the account currency', NEW.account_id, NEW.currency
            USING ERRCODE = '23514', CONSTRAINT = 'postings_currency';
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER postings_apply AFTER INSERT ON postings FOR EACH ROW EXECUTE FUNCTION postings_apply();

-- Entries and postings are immutable: corrections are new (reversing) entries.
-- +goose StatementBegin
CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: post a reversing entry instead', TG_TABLE_NAME
        USING ERRCODE = '55000', CONSTRAINT = 'ledger_immutable';
END $$;
-- +goose StatementEnd
CREATE TRIGGER postings_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER journal_entries_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();

-- Customers and declarations ---------------------------------------------------
-- Customers are upserted in bulk from a file's rows; that they belong to a
-- configured reseller is checked by `clearhouse ledger check`, not per row.
CREATE TABLE customers (
    reseller_id     text NOT NULL,
    customer_id     text NOT NULL,
    email           text NOT NULL,
    name            text,
    country         char(2),
    language        text,
    company         text,
    vat_id          text,
    created_file_id bigint NOT NULL,
    updated_file_id bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (reseller_id, customer_id)
);

-- The declarations sub-ledger: one row per accepted declaration, keyed by the
-- file and line it came from, carrying its own amounts, accounts and entry.
-- A NEW of a monthly item is a subscription; its state lives on the row
-- (sub_state, sub_end_date), so posting writes one row per declaration.
-- Bulk-loaded with COPY: the link to files and journal_entries is checked by
-- `clearhouse ledger check` rather than by a per-row foreign key.
CREATE TABLE declarations (
    file_id           bigint NOT NULL,
    line              integer NOT NULL,
    reseller_id       text NOT NULL,
    declaration_id    text NOT NULL,
    action            text NOT NULL CHECK (action IN ('NEW', 'TERMINATE', 'USAGE')),
    customer_id       text NOT NULL,
    customer_email    text,
    customer_name     text,
    country           char(2),
    language          text,
    sku               text NOT NULL,
    publisher_id      text NOT NULL,
    billing_model     text NOT NULL CHECK (billing_model IN ('one_time', 'monthly', 'usage')),
    quantity          bigint NOT NULL CHECK (quantity > 0),
    start_date        date NOT NULL,
    end_date          date,
    price_valid_from  date,
    unit_price        numeric(18,6),
    currency          char(3) NOT NULL,
    resale_price      numeric(18,6),
    subscription_ref  text,
    amount            bigint NOT NULL,
    publisher_amount  bigint NOT NULL,
    hub_amount        bigint NOT NULL,
    entry_id          bigint NOT NULL,
    unbilled_account  bigint,
    payable_account   bigint,
    revenue_account   bigint,
    sub_state         text CHECK (sub_state IN ('active', 'terminated', 'cancelled')),
    sub_end_date      date,
    terminated_by     text,
    -- The reseller's id is the natural key and the idempotency key of a declaration.
    CONSTRAINT declarations_reseller_declaration_key PRIMARY KEY (reseller_id, declaration_id),
    CHECK (amount = publisher_amount + hub_amount),
    CHECK ((action = 'NEW' AND billing_model = 'monthly') = (sub_state IS NOT NULL))
);

-- The sub-ledger is append-only too: after posting, only a subscription's
-- state (terminated, cancelled) may change on its row.
-- +goose StatementBegin
CREATE FUNCTION declarations_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (to_jsonb(NEW) - 'sub_state' - 'sub_end_date' - 'terminated_by') IS DISTINCT FROM
       (to_jsonb(OLD) - 'sub_state' - 'sub_end_date' - 'terminated_by') THEN
        RAISE EXCEPTION 'declaration % of % is posted: only its subscription state may change', OLD.declaration_id, OLD.reseller_id
            USING ERRCODE = '55000', CONSTRAINT = 'declarations_frozen';
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER declarations_frozen BEFORE UPDATE ON declarations FOR EACH ROW EXECUTE FUNCTION declarations_frozen();
CREATE TRIGGER declarations_no_delete BEFORE DELETE OR TRUNCATE ON declarations
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();

-- Rows arrive file by file, so file_id grows with the table: a BRIN index finds
-- a file's rows at almost no cost per inserted row. (file_id, line) is unique
-- by construction and checked by `clearhouse ledger check`.
CREATE INDEX declarations_file_brin ON declarations USING brin (file_id) WITH (pages_per_range = 16);

CREATE VIEW subscriptions AS
SELECT reseller_id, declaration_id AS subscription_id, customer_id, sku, publisher_id, quantity,
       start_date, sub_state AS state, sub_end_date AS end_date, unit_price, currency, file_id, line
  FROM declarations WHERE sub_state IS NOT NULL;

-- What the fulfillment stage picks up: one row per posted file and publisher;
-- the records themselves are the file's NEW and TERMINATE declarations.
CREATE TABLE fulfillment_outbox (
    file_id       bigint NOT NULL REFERENCES files (id),
    publisher_id  text NOT NULL REFERENCES publishers (partner_id),
    activations   integer NOT NULL,
    cancellations integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    batched_at    timestamptz,
    PRIMARY KEY (file_id, publisher_id)
);
CREATE INDEX fulfillment_outbox_pending_idx ON fulfillment_outbox (publisher_id) WHERE batched_at IS NULL;

-- +goose Down
DROP TABLE fulfillment_outbox;
DROP VIEW subscriptions;
DROP TABLE declarations, customers, postings, journal_entries, accounts, file_problems, files,
    price_versions, catalog_items, catalogs, publishers, resellers, partners;
DROP FUNCTION postings_check_balanced, postings_apply, ledger_immutable, declarations_frozen;
