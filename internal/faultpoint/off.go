//go:build !faults

package faultpoint

// Hit marks the point name; without the `faults` build tag it does nothing.
func Hit(string) {}
