//go:build !linux

package residency

// Started does nothing outside Linux.
func Started() {}

// Enabled is false outside Linux.
func Enabled() bool { return false }

// Release does nothing outside Linux.
func Release() uintptr { return 0 }
