package world

import (
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/exchange"
)

// SFTP is how a partner exchanges files: the keys that may log in to
// Clearhouse's SFTP server as this partner, and the partner's own server,
// if Clearhouse pulls from or pushes to it.
type SFTP struct {
	Where `yaml:"-"`
	// Keys are the authorised uploaders, each named (logs and file records
	// say which one sent a file).
	Keys []*SFTPKey `yaml:"keys"`
	// PasswordHash (argon2id, from `clearhouse sftp hash-password`) allows
	// password logins when the server allows passwords at all.
	PasswordHash string `yaml:"password_hash"`
	// MaxSessions caps this partner's concurrent sessions (default 4).
	MaxSessions int `yaml:"max_sessions"`
	// Upload says when a file uploaded to Clearhouse's server is complete.
	Upload *Upload `yaml:"upload"`
	Remote *Remote `yaml:"remote"`
}

// Upload is the completion protocol of a partner's uploads. SFTP cannot
// tell a transfer the client interrupted (Ctrl-C on OpenSSH's sftp) from a
// complete one: both close the file normally.
type Upload struct {
	Where `yaml:"-"`
	// Complete is "close" (the default: a file is taken when the client
	// closes it) or "done_file": X is taken only once X.done is uploaded
	// too; X.done may hold "sha256=<hex>" and "rows=<N>" (data rows, the
	// header not counted), one a line, and the file is checked against them.
	Complete string `yaml:"complete"`
}

// DoneFile reports whether uploads wait for their done file.
func (u *Upload) DoneFile() bool { return u != nil && u.Complete == "done_file" }

// SFTPKey is one authorised public key, as in an authorized_keys line.
type SFTPKey struct {
	Where `yaml:"-"`
	Name  string `yaml:"name"`
	Key   string `yaml:"key"`
}

// Remote is a partner's own SFTP server.
type Remote struct {
	Where   `yaml:"-"`
	Address string `yaml:"address"` // host:port
	// HostKey pins the server: one of its host keys, or several while one
	// is rotated, each its SHA256 fingerprint, best with the key type (see
	// ParsePin), as ssh-keyscan HOST | ssh-keygen -lf - prints them. No
	// pin, no connection.
	HostKey exchange.HostKeys `yaml:"host_key"`
	User    string            `yaml:"user"`
	// KeyFile is a private key to log in with; default: Clearhouse's own
	// client key (<data-dir>/sftp/client_ed25519_key, its public half is
	// printed by `clearhouse sftp keys`).
	KeyFile string `yaml:"key_file"`
	// PasswordEnv names the environment variable holding a password, for
	// servers that take no keys. Secrets never live in the config.
	PasswordEnv string `yaml:"password_env"`
	Pull        *Pull  `yaml:"pull"`
	Push        *Push  `yaml:"push"`
}

// Pull takes the partner's files from a folder of their server.
type Pull struct {
	Where `yaml:"-"`
	Dir   string `yaml:"dir"`
	// Complete says when a remote file is complete: "temp_name" (files
	// named *.part, *.tmp, *.filepart are still being written), "done_file"
	// (X is complete once X.done exists; if X.done holds a sha256, it is
	// checked) or "stable" (size and mtime unchanged for stable_for).
	Complete  string `yaml:"complete"`
	StableFor string `yaml:"stable_for"`
	// After a file is taken: "delete" it, or "move" it to MoveTo.
	After           string           `yaml:"after"`
	MoveTo          string           `yaml:"move_to"`
	exchange.Timing `yaml:",inline"` // default every 5m
}

// Push delivers the partner's outbox files to a folder of their server.
type Push struct {
	Where           `yaml:"-"`
	Dir             string           `yaml:"dir"`
	exchange.Timing `yaml:",inline"` // how often pending deliveries are tried (default every 1m)
}

// eachWhere calls fn with the position of the section and everything in it.
func (s *SFTP) eachWhere(fn func(*Where)) {
	fn(&s.Where)
	for _, k := range s.Keys {
		fn(&k.Where)
	}
	if r := s.Remote; r != nil {
		fn(&r.Where)
		if r.Pull != nil {
			fn(&r.Pull.Where)
		}
		if r.Push != nil {
			fn(&r.Push.Where)
		}
	}
}

// JSON is the stored form of the settings (exchange.Settings).
func (s SFTP) JSON() string { return s.settingsJSON(nil) }

func (s SFTP) settingsJSON(fulfillment *exchange.Timing) string {
	return exchange.Settings{MaxSessions: s.MaxSessions, PasswordHash: s.PasswordHash, Upload: s.Upload.stored(), Remote: s.Remote.stored(), Fulfillment: fulfillment}.JSON()
}

func (w Where) source() exchange.Source { return exchange.Source{File: w.File, Line: w.Line} }

func (u *Upload) stored() *exchange.Upload {
	if u == nil {
		return nil
	}
	return &exchange.Upload{Complete: u.Complete}
}

func (r *Remote) stored() *exchange.Remote {
	if r == nil {
		return nil
	}
	return &exchange.Remote{Source: r.source(), Address: r.Address, HostKey: r.HostKey, User: r.User, KeyFile: r.KeyFile, PasswordEnv: r.PasswordEnv,
		Pull: r.Pull.stored(), Push: r.Push.stored()}
}

func (p *Pull) stored() *exchange.Pull {
	if p == nil {
		return nil
	}
	return &exchange.Pull{Source: p.source(), Dir: p.Dir, Complete: p.Complete, StableFor: p.StableFor, After: p.After, MoveTo: p.MoveTo, Timing: p.Timing}
}

func (p *Push) stored() *exchange.Push {
	if p == nil {
		return nil
	}
	return &exchange.Push{Source: p.source(), Dir: p.Dir, Timing: p.Timing}
}

// SettingsJSON is the stored form of a publisher's settings.
func (p *Publisher) SettingsJSON() string {
	var f *exchange.Timing
	if p.Fulfillment != (exchange.Timing{}) {
		f = &p.Fulfillment
	}
	return p.SFTP.settingsJSON(f)
}

// check reports the problems of a partner's SFTP section.
func (s *SFTP) check(bad func(Where, string, string, ...any), fps map[string]Where) {
	names := map[string]bool{}
	for _, k := range s.Keys {
		if k.Name == "" {
			bad(k.Where, "name", "each key needs a name (who uploads with it)")
		}
		if names[k.Name] {
			bad(k.Where, "name", "%q is used twice", k.Name)
		}
		names[k.Name] = true
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k.Key))
		if err != nil {
			bad(k.Where, "key", "not a public key in authorized_keys form (ssh-ed25519 AAAA…): %v", err)
			continue
		}
		fp := ssh.FingerprintSHA256(pk)
		if prev, dup := fps[fp]; dup {
			bad(k.Where, "key", "this key (%s) is already authorised at %s: a key belongs to one partner", fp, prev)
		}
		fps[fp] = k.Where
	}
	if s.PasswordHash != "" && !strings.HasPrefix(s.PasswordHash, "$argon2id$") {
		bad(s.Where, "password_hash", "must be an argon2id hash from `clearhouse sftp hash-password`, never a password")
	}
	if s.MaxSessions < 0 {
		bad(s.Where, "max_sessions", "must be positive")
	}
	if u := s.Upload; u != nil {
		switch u.Complete {
		case "", "close", "done_file":
		default:
			bad(u.Where, "complete", "must be close or done_file")
		}
	}
	r := s.Remote
	if r == nil {
		return
	}
	if r.Address == "" || !strings.Contains(r.Address, ":") {
		bad(r.Where, "address", "host:port is required")
	}
	if len(r.HostKey) == 0 {
		bad(r.Where, "host_key", "the server's SHA256 fingerprint is required (ssh-keyscan -p PORT HOST | ssh-keygen -lf -): no pin, no connection")
	}
	for _, pin := range r.HostKey {
		if _, err := exchange.ParsePin(pin); err != nil {
			bad(r.Where, "host_key", "%q: %v", pin, err)
		}
	}
	if r.User == "" {
		bad(r.Where, "user", "is required")
	}
	if r.Pull == nil && r.Push == nil {
		bad(r.Where, "pull", "a remote needs pull, push or both")
	}
	if p := r.Pull; p != nil {
		if p.Dir == "" {
			bad(p.Where, "dir", "is required")
		}
		switch p.Complete {
		case "temp_name", "done_file", "stable":
		default:
			bad(p.Where, "complete", "must be temp_name, done_file or stable")
		}
		switch p.After {
		case "delete":
		case "move":
			if p.MoveTo == "" {
				bad(p.Where, "move_to", "is required with after: move")
			}
		default:
			bad(p.Where, "after", "must be delete or move")
		}
		if _, err := time.ParseDuration(p.StableFor); p.StableFor != "" && err != nil {
			bad(p.Where, "stable_for", "%q is not a duration (30s, 5m, 1h)", p.StableFor)
		}
		if _, _, err := p.Spec(5 * time.Minute); err != nil {
			bad(p.Where, "schedule", "%v", err)
		}
	}
	if p := r.Push; p != nil {
		if p.Dir == "" {
			bad(p.Where, "dir", "is required")
		}
		if _, _, err := p.Spec(time.Minute); err != nil {
			bad(p.Where, "schedule", "%v", err)
		}
	}
}
