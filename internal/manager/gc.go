package manager

import (
	"runtime/debug"
	"strconv"
)

// DefaultGCPercent is --gc-percent's default. Go's own, 100, lets the heap grow to twice the
// live heap between collections; most of weir's heap is garbage of short reconciles (rendered
// manifests, decoded objects, release records), so at 50 a burst of a hundred HelmReleases
// peaks about 10 MiB lower (a quarter of the heap and stacks) for a few tenths of a CPU second
// more (docs/benchmarks.md).
const DefaultGCPercent = 50

// setGCPercent sets the garbage collector's target to percent, unless GOGC (read with getenv)
// is set: the runtime then keeps the environment's setting. It returns the setting in force,
// as GOGC spells it.
func setGCPercent(percent int, getenv func(string) string) string {
	if v := getenv("GOGC"); v != "" {
		return v
	}
	debug.SetGCPercent(percent)
	return strconv.Itoa(percent)
}
