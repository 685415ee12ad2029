package world_test

import (
	"testing"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/world"
)

// TestStoredSettingsForm pins the JSON the partners table keeps of an sftp
// section: instances of another version read it, so its form does not move
// with the code that writes it.
func TestStoredSettingsForm(t *testing.T) {
	t.Parallel()
	s := world.SFTP{PasswordHash: "$argon2id$x", MaxSessions: 2, Upload: &world.Upload{Complete: "done_file"},
		Remote: &world.Remote{Where: world.Where{File: "a.yaml", Line: 3}, Address: "sftp.example:22", HostKey: exchange.HostKeys{"SHA256:x"}, User: "u",
			Pull: &world.Pull{Where: world.Where{File: "a.yaml", Line: 8}, Dir: "/out", Complete: "stable", StableFor: "1m", After: "move", MoveTo: "/done", Timing: exchange.Timing{Every: "5m"}},
			Push: &world.Push{Where: world.Where{File: "a.yaml", Line: 12}, Dir: "/in", Timing: exchange.Timing{Schedule: "0 6 * * *", Timezone: "Europe/Paris"}}}}
	got := s.JSON()
	const want = `{"max_sessions":2,"password_hash":"$argon2id$x","upload":{"complete":"done_file"},` +
		`"remote":{"File":"a.yaml","Line":3,"Address":"sftp.example:22","HostKey":"SHA256:x","User":"u","KeyFile":"","PasswordEnv":"",` +
		`"Pull":{"File":"a.yaml","Line":8,"Dir":"/out","Complete":"stable","StableFor":"1m","After":"move","MoveTo":"/done","Every":"5m","Schedule":"","Timezone":""},` +
		`"Push":{"File":"a.yaml","Line":12,"Dir":"/in","Every":"","Schedule":"0 6 * * *","Timezone":"Europe/Paris"}}}`
	if got != want {
		t.Fatalf("stored settings\n got %s\nwant %s", got, want)
	}
}
