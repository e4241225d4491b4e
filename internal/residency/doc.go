// Package residency keeps the pages of weir's own executable that the process no longer uses
// out of its resident set.
//
// weir links the libraries of every controller (Kubernetes' clients, Helm, kustomize, SOPS with
// its cloud key services, OCI and signature verification). Go runs every linked package's
// initialisation at start, and the kernel maps the executable's file pages in 64 KiB windows
// around each page touched: by the time main runs, about 70 MiB of the 110 MiB of code and
// read-only data are mapped, though most of it (initialisation of libraries that a given
// cluster never uses) is never run again. Those pages are clean and backed by the executable
// file, so dropping them from the process's page tables (madvise MADV_DONTNEED on the
// read-only segments) is safe: a page needed again faults back in from the page cache.
//
// In `weir controller` this happens while packages initialise (a goroutine started by this
// package's init, which Go runs among the first), once main has started, and once the
// controllers' caches have synced. The pages stay in the page cache, shared and reclaimable;
// what changes is that they no longer count in the process's resident set (VmRSS/VmHWM) and
// that the kernel may reclaim them without unmapping them first. WEIR_BINARY_PAGES=keep in the
// environment turns it off.
package residency
