package sftpd

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing f's dirty pages to disk
// without waiting for them. Called every few MiB of an upload, it spreads
// the disk writes over the transfer, so the fsync on close (the file must be
// durable before the client is told it arrived) has little left to wait for.
func startWriteback(f *os.File) {
	_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
