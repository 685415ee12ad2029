package world_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/world"
)

const (
	fpA = "SHA256:6ovOCZJGT9gwvV7JoJMBxQ+sa4ZjQhX6gaG/imWG9FA"
	fpB = "SHA256:byJlW8JsfZPMT0i9f8hlc3lYmG8tlM6xWfAsmC2C3ok"
)

// TestHostKeyIsOnePinOrAList: host_key takes one pin (as before) or a list
// (a key being rotated); a bad pin is named with its file, line and field;
// settings stored with one pin as a string still read.
func TestHostKeyIsOnePinOrAList(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(hostKey string) {
		t.Helper()
		writeFiles(t, dir, map[string]string{"a.yaml": `resellers:
  - id: telco-fr
    name: Telco
    currency: EUR
    vat: {treatment: standard, rate: "20"}
    credit_limit: "1000"
    payment: {method: pay_now}
    file_policy: reject_file
    sftp:
      remote:
        address: sftp.example.com:22
        user: clearhouse
        push: {dir: /incoming}
` + hostKey})
	}
	for _, tc := range []struct {
		yaml string
		want exchange.HostKeys
	}{
		{"        host_key: " + fpA + "\n", exchange.HostKeys{fpA}},
		{"        host_key: [" + fpA + ", \"ssh-ed25519 " + fpB + "\"]\n", exchange.HostKeys{fpA, "ssh-ed25519 " + fpB}},
		{"        host_key:\n          - 256 " + fpA + " sftp.example.com (ED25519)\n          - " + fpB + "\n", exchange.HostKeys{"256 " + fpA + " sftp.example.com (ED25519)", fpB}},
	} {
		write(tc.yaml)
		w, err := world.Load(dir)
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		r := w.Resellers[0].SFTP.Remote
		if !reflect.DeepEqual(r.HostKey, tc.want) {
			t.Fatalf("%s: %q", tc.yaml, r.HostKey)
		}
		st, err := exchange.ParseSettings(w.Resellers[0].SFTP.JSON())
		if err != nil || !reflect.DeepEqual(st.Remote.HostKey, tc.want) {
			t.Fatalf("stored and read back: %q %v", st.Remote.HostKey, err)
		}
	}
	for _, tc := range []struct{ yaml, want string }{
		{"", "a.yaml:11: host_key: the server's SHA256 fingerprint is required"},
		{"        host_key: MD5:16:27:ac\n", `a.yaml:14: host_key: "MD5:16:27:ac": not a host key pin: "MD5:16:27:ac" is not a SHA256 fingerprint`},
		{"        host_key: [" + fpA + ", \"ssh-dss " + fpB + "\"]\n", `a.yaml:14: host_key: "ssh-dss ` + fpB + `": not a host key pin: unknown key type "ssh-dss"`},
		{"        host_key: {a: b}\n", "a.yaml:14: host_key: host_key is a pin (SHA256:…) or a list of pins"},
	} {
		write(tc.yaml)
		if _, err := world.Load(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
	// Settings stored before lists: host_key a string.
	var st exchange.Settings
	if err := json.Unmarshal([]byte(`{"remote":{"Address":"a:22","HostKey":"`+fpA+`","User":"u"}}`), &st); err != nil || !reflect.DeepEqual(st.Remote.HostKey, exchange.HostKeys{fpA}) {
		t.Fatalf("old settings: %+v %v", st.Remote, err)
	}
}
