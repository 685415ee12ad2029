package exchange

import "errors"

// Key is a public key authorised to log in as a partner, as the database
// keeps it, with the partner's status.
type Key struct {
	Partner       string
	Name          string // who uploads with it
	AuthorizedKey string // as in an authorized_keys line
	Status        string // the partner's: active, or why not
}

// Partner is what a login reads of a partner: its status and its stored
// settings.
type Partner struct {
	ID       string
	Kind     string // reseller or publisher
	Status   string
	Settings Settings
}

// Active tells whether the partner may log in.
func (p Partner) Active() bool { return p.Status == "active" }

// Active tells whether the key's partner may log in.
func (k Key) Active() bool { return k.Status == "active" }

// The looked-up key or partner is not in the applied configuration.
var (
	ErrUnknownKey     = errors.New("unknown key")
	ErrUnknownPartner = errors.New("unknown partner")
)
