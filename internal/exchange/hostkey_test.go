package exchange_test

import (
	"errors"
	"testing"

	"github.com/clearhouse/clearhouse/internal/exchange"
)

const fpA = "SHA256:6ovOCZJGT9gwvV7JoJMBxQ+sa4ZjQhX6gaG/imWG9FA"

func TestParsePin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want exchange.Pin
		bad  bool
	}{
		{in: fpA, want: exchange.Pin{Fingerprint: fpA}},
		{in: "ssh-ed25519 " + fpA, want: exchange.Pin{Type: "ssh-ed25519", Fingerprint: fpA}},
		{in: "rsa-sha2-512 " + fpA, want: exchange.Pin{Type: "ssh-rsa", Fingerprint: fpA}},
		{in: "256 " + fpA + " sftp.example.com (ED25519)", want: exchange.Pin{Type: "ssh-ed25519", Fingerprint: fpA}},
		{in: "256 " + fpA + " [127.0.0.1]:2222 (ECDSA)", want: exchange.Pin{Type: "ecdsa-sha2-nistp256", Fingerprint: fpA}},
		{in: "3072 " + fpA + " no comment (RSA)", want: exchange.Pin{Type: "ssh-rsa", Fingerprint: fpA}},
		{in: "", bad: true},
		{in: "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48", bad: true},
		{in: "SHA256:short", bad: true},
		{in: "ssh-dss " + fpA, bad: true},
		{in: "256 " + fpA + " host (DSA)", bad: true},
	} {
		got, err := exchange.ParsePin(tc.in)
		if tc.bad {
			if !errors.Is(err, exchange.ErrPin) {
				t.Errorf("%q: %+v %v, want ErrPin", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}
