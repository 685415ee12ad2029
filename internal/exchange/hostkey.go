package exchange

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// HostKeys pins a partner's server: one or more of its host keys (several
// while a key is rotated), each as a Pin reads it. In YAML, host_key is one
// pin or a list of them.
type HostKeys []string

// UnmarshalYAML takes one pin or a list of pins.
func (h *HostKeys) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*h = HostKeys{n.Value}
		return nil
	case yaml.SequenceNode:
		var pins []string
		if err := n.Decode(&pins); err != nil {
			return err
		}
		*h = pins
		return nil
	}
	return fmt.Errorf("line %d: host_key is a pin (SHA256:…) or a list of pins", n.Line)
}

// MarshalJSON stores one pin as a string, as settings stored before lists
// were allowed: instances not yet upgraded still read them.
func (h HostKeys) MarshalJSON() ([]byte, error) {
	if len(h) == 1 {
		return json.Marshal(h[0])
	}
	return json.Marshal([]string(h))
}

// UnmarshalJSON reads one pin (settings stored before lists) or a list.
func (h *HostKeys) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*h = nil
		if one != "" {
			*h = HostKeys{one}
		}
		return nil
	}
	var pins []string
	if err := json.Unmarshal(b, &pins); err != nil {
		return err
	}
	*h = pins
	return nil
}

// Pin is one pinned host key: its SHA256 fingerprint and, when the pin
// says it, its key type (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa…), so a
// client can ask the server for that key first.
type Pin struct {
	Type        string // "" when the pin gives only the fingerprint
	Fingerprint string // SHA256:…
}

// ErrPin is a pin that cannot be read.
var ErrPin = errors.New("not a host key pin")

// ParsePin reads a pin in one of three forms:
//
//	SHA256:…                                  the fingerprint alone
//	ssh-ed25519 SHA256:…                      the key type, then the fingerprint
//	256 SHA256:… host (ED25519)               a line of ssh-keyscan HOST | ssh-keygen -lf -
func ParsePin(s string) (Pin, error) {
	f := strings.Fields(s)
	var p Pin
	switch {
	case len(f) == 1:
		p.Fingerprint = f[0]
	case len(f) == 2 && !isDigits(f[0]):
		typ, ok := keyTypes[f[0]]
		if !ok {
			return p, fmt.Errorf("%w: unknown key type %q (ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa)", ErrPin, f[0])
		}
		p.Type, p.Fingerprint = typ, f[1]
	case len(f) >= 3 && isDigits(f[0]) && strings.HasPrefix(f[len(f)-1], "(") && strings.HasSuffix(f[len(f)-1], ")"):
		// ssh-keygen -l: bits, fingerprint, comment, (TYPE).
		bits, name := f[0], strings.Trim(f[len(f)-1], "()")
		switch name {
		case "ED25519":
			p.Type = "ssh-ed25519"
		case "ECDSA":
			switch bits {
			case "256", "384", "521":
				p.Type = "ecdsa-sha2-nistp" + bits
			default:
				return p, fmt.Errorf("%w: an ECDSA key of %s bits", ErrPin, bits)
			}
		case "RSA":
			p.Type = "ssh-rsa"
		default:
			return p, fmt.Errorf("%w: unknown key type (%s) (ED25519, ECDSA, RSA)", ErrPin, name)
		}
		p.Fingerprint = f[1]
	default:
		return p, fmt.Errorf("%w: expected SHA256:…, \"ssh-ed25519 SHA256:…\" or a line of ssh-keygen -lf", ErrPin)
	}
	b64, ok := strings.CutPrefix(p.Fingerprint, "SHA256:")
	if b, err := base64.RawStdEncoding.DecodeString(b64); !ok || err != nil || len(b) != 32 {
		return p, fmt.Errorf("%w: %q is not a SHA256 fingerprint (SHA256: and 43 base64 characters)", ErrPin, p.Fingerprint)
	}
	return p, nil
}

// keyTypes are the key types a pin may name, each to the type of the key
// (an RSA key is pinned as ssh-rsa whatever signature it is used with).
var keyTypes = map[string]string{
	"ssh-ed25519":         "ssh-ed25519",
	"ecdsa-sha2-nistp256": "ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384": "ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521": "ecdsa-sha2-nistp521",
	"ssh-rsa":             "ssh-rsa",
	"rsa-sha2-256":        "ssh-rsa",
	"rsa-sha2-512":        "ssh-rsa",
}

func isDigits(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}
