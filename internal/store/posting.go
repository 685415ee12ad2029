package store

import (
	"context"
	"fmt"
)

// Posting's statements besides its COPYs (which ingest encodes and runs
// itself, on the file's transaction): they run in that transaction.
const (
	terminateSubscriptionsSQL = `
	UPDATE declarations s SET sub_state = 'terminated', sub_end_date = t.start_date, terminated_by = t.declaration_id
	  FROM declarations t
	 WHERE t.file_id = $1 AND t.action = 'TERMINATE'
	   AND s.reseller_id = t.reseller_id AND s.declaration_id = t.subscription_ref AND s.sub_state = 'active'`
	createCustomerUpdatesSQL = `CREATE TEMP TABLE stage_customer_updates (reseller_id text, customer_id text, email text, name text,
		country text, language text, file_id bigint, line int) ON COMMIT DROP`
	applyCustomerUpdatesSQL = `
		UPDATE customers c SET email = u.email, name = coalesce(u.name, c.name), country = coalesce(u.country, c.country),
		       language = coalesce(u.language, c.language), updated_file_id = u.file_id, updated_at = now()
		  FROM (SELECT DISTINCT ON (customer_id) * FROM stage_customer_updates ORDER BY customer_id, line DESC) u
		 WHERE c.reseller_id = u.reseller_id AND c.customer_id = u.customer_id
		   AND (c.email, c.name, c.country, c.language) IS DISTINCT FROM
		       (u.email, coalesce(u.name, c.name), coalesce(u.country, c.country), coalesce(u.language, c.language))`
	queueFulfillmentSQL     = `INSERT INTO fulfillment_outbox (file_id, publisher_id, activations, cancellations) VALUES ($1, $2, $3, $4)`
	createStageCustomersSQL = `CREATE TEMP TABLE stage_customers (line int, customer_id text, email text, name text, country text,
		language text, company text, vat_id text) ON COMMIT DROP`
	upsertCustomersSQL = `
		INSERT INTO customers AS c (reseller_id, customer_id, email, name, country, language, company, vat_id, created_file_id, updated_file_id)
		SELECT $1, customer_id, email, name, country, language, company, vat_id, $2, $2 FROM stage_customers
		ON CONFLICT (reseller_id, customer_id) DO UPDATE SET
		       email = excluded.email, name = coalesce(excluded.name, c.name), country = coalesce(excluded.country, c.country),
		       language = coalesce(excluded.language, c.language), company = coalesce(excluded.company, c.company),
		       vat_id = coalesce(excluded.vat_id, c.vat_id), updated_file_id = excluded.updated_file_id, updated_at = now()`
)

// TerminateSubscriptions ends the active subscriptions that the TERMINATE
// rows of a file refer to, and returns how many it ended.
func TerminateSubscriptions(ctx context.Context, q Querier, fileID int64) (int64, error) {
	tag, err := q.Exec(ctx, terminateSubscriptionsSQL, fileID)
	if err != nil {
		return 0, fmt.Errorf("terminating the subscriptions of file %d: %w", fileID, err)
	}
	return tag.RowsAffected(), nil
}

// CreateCustomerUpdates makes the transaction's staging table of customer
// updates (reseller_id, customer_id, email, name, country, language,
// file_id, line), for a COPY.
func CreateCustomerUpdates(ctx context.Context, q Querier) error {
	_, err := q.Exec(ctx, createCustomerUpdatesSQL)
	return err
}

// ApplyCustomerUpdates applies the staged updates, a customer's last line
// winning, leaving unchanged customers unwritten.
func ApplyCustomerUpdates(ctx context.Context, q Querier) error {
	_, err := q.Exec(ctx, applyCustomerUpdatesSQL)
	return err
}

// QueueFulfillment tells a publisher, through the fulfillment outbox, of a
// file's activations and cancellations of its items.
func QueueFulfillment(ctx context.Context, q Querier, fileID int64, publisher string, activations, cancellations int) error {
	if _, err := q.Exec(ctx, queueFulfillmentSQL, fileID, publisher, activations, cancellations); err != nil {
		return fmt.Errorf("queueing the fulfillment of file %d for %s: %w", fileID, publisher, err)
	}
	return nil
}

// CreateStageCustomers makes the transaction's staging table of a customers
// file (line, customer_id, email, name, country, language, company,
// vat_id), for a COPY.
func CreateStageCustomers(ctx context.Context, q Querier) error {
	_, err := q.Exec(ctx, createStageCustomersSQL)
	return err
}

// UpsertStagedCustomers creates the staged customers or updates them,
// keeping a known customer's values where the file leaves a column empty.
func UpsertStagedCustomers(ctx context.Context, q Querier, reseller string, fileID int64) error {
	_, err := q.Exec(ctx, upsertCustomersSQL, reseller, fileID)
	return err
}
