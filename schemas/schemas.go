// Package schemas embeds the authoritative file layouts and problem codes of
// Clearhouse (the YAML files beside this one), so the binary carries exactly
// what this folder documents.
package schemas

import "embed"

// FS holds every *.yaml file of this folder.
//
//go:embed *.yaml
var FS embed.FS
