package mailbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// tempSuffixes mark uploads still being written under a temporary name
// (OpenSSH users, WinSCP's .filepart, scripts' .tmp): intake never takes them;
// a rename to the final name publishes the file.
var tempSuffixes = []string{".part", ".filepart", ".tmp", ".partial", ".upload"}

// IsTempName reports whether name follows a sender's temporary-upload
// convention (not this package's own temporary names: see IsTemp).
func IsTempName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range tempSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// DoneSuffix names a file's done file: under the done_file protocol
// (sftp.upload.complete, pull.complete), X is complete only once X.done is
// there too.
const DoneSuffix = ".done"

// UploaderFile is where the name of who sent the file at path is left,
// beside it: a file found by a scan after a restart still names its
// uploader.
func UploaderFile(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".from")
}

// PulledBy starts the uploader recorded for a file pulled from a partner's
// own server: such a file is complete by the pull's rule (pull.complete),
// never waits for a done file in the inbox.
const PulledBy = "pull "

// slashLookalikes are characters that render like a path separator: the
// fraction and division slashes, the big solidus and reverse solidus,
// fullwidth ones, box-drawing diagonals, the mathematical rising and
// falling diagonals, the small reverse solidus.
const slashLookalikes = "\u2044\u2215\u29f8\uff0f\u2216\uff3c\u29f9\u2571\u2572\u27cb\u27cd\ufe68"

// invisible reports a character that shows nothing, or changes how its
// neighbour shows, beyond the format characters (Cf): line and paragraph
// separators, the combining grapheme joiner, variation selectors, Hangul
// and Mongolian fillers.
func invisible(r rune) bool {
	switch {
	case unicode.In(r, unicode.Zl, unicode.Zp):
		return true
	case r == 0x034f, r == 0x115f, r == 0x1160, r == 0x3164, r == 0xffa0, r >= 0x180b && r <= 0x180f:
		return true
	case r >= 0xfe00 && r <= 0xfe0f, r >= 0xe0100 && r <= 0xe01ef: // variation selectors
		return true
	}
	return false
}

// ValidName checks a file name sent by a partner: one plain name, no path,
// no hidden or control characters, no bidi or zero-width tricks, in NFC.
func ValidName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return errors.New("a file name is required")
	case len(name) > 200:
		return errors.New("the file name is longer than 200 bytes")
	case !utf8.ValidString(name):
		return errors.New("the file name is not valid UTF-8")
	case name[0] == '.':
		return errors.New("file names may not start with a dot")
	case strings.TrimSpace(name) != name || strings.HasSuffix(name, "."):
		return errors.New("file names may not start or end with a space, or end with a dot")
	case !norm.NFC.IsNormalString(name):
		return errors.New("the file name is not in Unicode NFC form")
	case strings.ContainsAny(name, `/\`+slashLookalikes):
		return errors.New("file names may not contain slashes or characters that look like them")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Co, r) || unicode.Is(unicode.Cc, r) || invisible(r) {
			return fmt.Errorf("the file name holds an invisible or control character (U+%04X)", r)
		}
	}
	return nil
}
