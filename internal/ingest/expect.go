package ingest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/clearhouse/clearhouse/internal/archive"
	"github.com/clearhouse/clearhouse/internal/declare"
	"github.com/clearhouse/clearhouse/internal/problem"
)

// Codes of a file that does not match what its done file declares.
const (
	CodeChecksumMismatch problem.Code = "CHECKSUM_MISMATCH"
	CodeRowCountMismatch problem.Code = "ROW_COUNT_MISMATCH"
	CodeDoneFileInvalid  problem.Code = "DONE_FILE_INVALID"
)

// Their causes.
var (
	ErrChecksumMismatch = errors.New("sha256 differs from the done file's")
	ErrRowCountMismatch = errors.New("row count differs from the done file's")
	ErrDoneFileInvalid  = errors.New("done file unreadable")
)

// Expect is what a sender declared of a file beside it, in its done file
// (X.done): its sha256, its data rows (the header not counted), or
// neither. The file is rejected whole when it does not match.
type Expect struct {
	From   string // the done file's name, for messages
	SHA256 string // lower-case hex; "" unchecked
	Rows   int    // -1 unchecked
	// Invalid says why the done file could not be read ("" when it could).
	Invalid string
}

// maxDoneBytes bounds what is read of a done file.
const maxDoneBytes = 4096

// ParseDone reads a done file: empty (the file is complete, nothing to
// check), or lines "sha256=<64 hex digits>" and "rows=<N>", in any order;
// a bare sha256 as the first word (`sha256sum X > X.done`) is taken too.
// Blank lines and lines starting with # are ignored.
func ParseDone(name string, b []byte) Expect {
	e := Expect{From: name, Rows: -1}
	if len(b) > maxDoneBytes {
		e.Invalid = fmt.Sprintf("it is longer than %d bytes", maxDoneBytes)
		return e
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			if f := strings.Fields(line); i == 0 && isSHA256(f[0]) {
				e.SHA256 = strings.ToLower(f[0]) // sha256sum's output: "<hex>  X"
				continue
			}
			e.Invalid = fmt.Sprintf("line %d is not sha256=<hex> or rows=<number>", i+1)
			return e
		}
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
		switch key {
		case "sha256":
			if !isSHA256(val) {
				e.Invalid = fmt.Sprintf("line %d: %q is not a sha256 (64 hex digits)", i+1, val)
				return e
			}
			e.SHA256 = strings.ToLower(val)
		case "rows":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				e.Invalid = fmt.Sprintf("line %d: %q is not a number of rows", i+1, val)
				return e
			}
			e.Rows = n
		default:
			e.Invalid = fmt.Sprintf("line %d: %q is not sha256 or rows", i+1, key)
			return e
		}
	}
	return e
}

func isSHA256(s string) bool {
	_, err := hex.DecodeString(s)
	return len(s) == 64 && err == nil
}

func (e *Expect) problem(code problem.Code, name, value string, cause error, format string, args ...any) *problem.Problem {
	p := problem.New(code, problem.Position{File: name}, value, cause, format, args...)
	p.Scope = problem.ScopeFile
	return p
}

// checkBytes compares the received bytes with the done file: nil when they
// match or nothing was declared.
func (e *Expect) checkBytes(name string, blob archive.Blob) *problem.Problem {
	switch {
	case e == nil:
		return nil
	case e.Invalid != "":
		return e.problem(CodeDoneFileInvalid, name, "", ErrDoneFileInvalid,
			"the done file %s cannot be read: %s; write sha256=<hex> and/or rows=<number>, one a line, and send both files again", e.From, e.Invalid)
	case e.SHA256 != "" && e.SHA256 != blob.Hex():
		return e.problem(CodeChecksumMismatch, name, blob.Hex(), ErrChecksumMismatch,
			"%s declares sha256 %s but the %d bytes received have sha256 %s: the upload was cut short or changed; send both files again", e.From, e.SHA256, blob.Size, blob.Hex())
	}
	return nil
}

// checkRows compares the rows read with the done file's count.
func (e *Expect) checkRows(name string, sum declare.Summary) *problem.Problem {
	if e == nil || e.Rows < 0 || e.Rows == sum.Rows {
		return nil
	}
	return e.problem(CodeRowCountMismatch, name, strconv.Itoa(sum.Rows), ErrRowCountMismatch,
		"%s declares %d rows but the file has %d: the upload was cut short or the count is wrong; send both files again", e.From, e.Rows, sum.Rows)
}
