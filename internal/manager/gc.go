package manager

import (
	"runtime/debug"
	"strconv"
	"time"
)

// DefaultGCPercent is --gc-percent's default. Go's own, 100, lets the heap grow to twice the
// live heap between collections; most of weir's heap is garbage of short reconciles (rendered
// manifests, decoded objects, release records), so at 50 a burst of a hundred HelmReleases
// peaks about 10 MiB lower (a quarter of the heap and stacks) for a few tenths of a CPU second
// more (docs/benchmarks.md).
const DefaultGCPercent = 50

// DefaultReleasePagesInterval is --release-binary-pages-interval's default. At 100 applications
// created at once, releasing every second took the peak resident set from 101-125 MiB to
// 82-87 MiB (its file-backed part from about 64-85 MiB to 50-58 MiB) with no measurable CPU:
// a page used again costs a minor fault (docs/benchmarks.md).
const DefaultReleasePagesInterval = time.Second

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
