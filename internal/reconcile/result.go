package reconcile

import (
	"math"
	"math/rand/v2"
	"time"
)

// JitterPercent is the spread applied to intervals, as Flux's --interval-jitter-percentage.
const JitterPercent = 5

// Jitter spreads d by ±JitterPercent so that objects created together do not reconcile in
// lockstep.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	spread := float64(d) * JitterPercent / 100
	j := time.Duration((rand.Float64()*2 - 1) * spread)
	if j > 0 && d > math.MaxInt64-j {
		// Near the largest duration, adding the spread would overflow to a negative one.
		return math.MaxInt64
	}
	return d + j
}
