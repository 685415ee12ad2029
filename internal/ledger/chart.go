package ledger

// The chart of accounts: the one place that spells the account codes. An
// account is a code in one currency; balances are signed, debit positive.
const (
	HubRevenue   = "hub:revenue"       // the hub's margin on declarations
	VATCollected = "tax:vat_collected" // VAT invoiced to resellers, owed to the state
	BankClearing = "bank:clearing"     // money in transit through the hub's bank
	// HubRounding takes what an invoice line's amount (quantity × unit
	// price, rounded once) differs from the sum of its items' amounts (each
	// rounded when posted or accrued), so that unbilled clears exactly.
	HubRounding = "hub:rounding"
)

// Unbilled is a reseller's account of declared, not yet invoiced amounts.
func Unbilled(reseller string) string { return "reseller:" + reseller + ":unbilled" }

// Receivable is a reseller's account of invoiced, not yet paid amounts.
func Receivable(reseller string) string { return "reseller:" + reseller + ":receivable" }

// Payable is a publisher's account of its share, owed by the hub.
func Payable(publisher string) string { return "publisher:" + publisher + ":payable" }
