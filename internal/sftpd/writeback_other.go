//go:build !linux

package sftpd

import "os"

// startWriteback has no portable equivalent; the fsync on close does it all.
func startWriteback(*os.File) {}
