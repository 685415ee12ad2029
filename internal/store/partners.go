package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clearhouse/clearhouse/internal/exchange"
)

// Partners reads the partners and partner_keys tables, as logins and
// uploads need them (sftpd.Accounts).
type Partners struct{ Pool *pgxpool.Pool }

// Key is the key of a fingerprint; exchange.ErrUnknownKey when none.
func (p Partners) Key(ctx context.Context, fingerprint string) (exchange.Key, error) {
	var k exchange.Key
	err := p.Pool.QueryRow(ctx, `SELECT k.partner_id, k.name, k.public_key, p.status FROM partner_keys k JOIN partners p ON p.id = k.partner_id
		WHERE k.fingerprint = $1`, fingerprint).Scan(&k.Partner, &k.Name, &k.AuthorizedKey, &k.Status)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, exchange.ErrUnknownKey
	}
	return k, err
}

// Partner is a partner's status and stored settings;
// exchange.ErrUnknownPartner when there is no such partner.
func (p Partners) Partner(ctx context.Context, id string) (exchange.Partner, error) {
	var pa exchange.Partner
	var settings string
	err := p.Pool.QueryRow(ctx, `SELECT sftp, status FROM partners WHERE id = $1`, id).Scan(&settings, &pa.Status)
	if errors.Is(err, pgx.ErrNoRows) {
		return pa, exchange.ErrUnknownPartner
	}
	if err != nil {
		return pa, err
	}
	if pa.Settings, err = exchange.ParseSettings(settings); err != nil {
		return pa, fmt.Errorf("reading partner %q's sftp settings: %w", id, err)
	}
	return pa, nil
}

// KeyAuthorised tells whether the key of fingerprint still logs in as
// partner: it is the partner's, and the partner is active.
func (p Partners) KeyAuthorised(ctx context.Context, partner, fingerprint string) (bool, error) {
	var ok bool
	err := p.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM partner_keys k JOIN partners p ON p.id = k.partner_id
		WHERE k.fingerprint = $1 AND k.partner_id = $2 AND p.status = 'active')`, fingerprint, partner).Scan(&ok)
	return ok, err
}

// PasswordAuthorised tells whether partner still logs in with a password:
// it is active and has a password hash.
func (p Partners) PasswordAuthorised(ctx context.Context, partner string) (bool, error) {
	var ok bool
	err := p.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM partners WHERE id = $1 AND status = 'active' AND sftp::jsonb ? 'password_hash')`, partner).Scan(&ok)
	return ok, err
}
