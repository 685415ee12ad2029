package ubl_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/ubl"
)

func ExampleWrite() {
	d := invoice.Examples()[0]
	var buf bytes.Buffer
	if err := ubl.Write(&buf, d); err != nil {
		log.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\n")[3:8] {
		fmt.Println(strings.TrimSpace(line))
	}
	// Output:
	// <cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>
	// <cbc:ID>CH-2026-000041</cbc:ID>
	// <cbc:IssueDate>2026-12-01</cbc:IssueDate>
	// <cbc:DueDate>2026-12-31</cbc:DueDate>
	// <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
}

// Validate takes many files at once: the EN 16931 rules run in one JVM.
func ExampleValidate() {
	dir, err := os.MkdirTemp("", "ubl")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var paths []string
	for _, d := range invoice.Examples() {
		var buf bytes.Buffer
		if err := ubl.Write(&buf, d); err != nil {
			log.Fatal(err)
		}
		p := filepath.Join(dir, d.Number+".xml")
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
		paths = append(paths, p)
	}
	results, err := ubl.Validate(context.Background(), paths...)
	if err != nil {
		log.Fatal(err) // ubl.ErrTools, ubl.ErrRules
	}
	for _, r := range results {
		fmt.Println(filepath.Base(r.Path), r.Valid(), len(r.Warnings), ubl.PeppolCheck(mustRead(r.Path)))
	}
}

func mustRead(p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		log.Fatal(err)
	}
	return b
}
