package notification

import (
	"sync"
	"time"
)

// maxDedupKeys bounds the duplicate-suppression memory; past it, the oldest half is dropped.
const maxDedupKeys = 100_000

// Deduper suppresses an event seen already within the interval (Flux's event rate limit:
// the same object, message and metadata within --rate-limit-interval is answered 429 and not
// dispatched). It is safe for concurrent use.
type Deduper struct {
	// Interval is how long an event suppresses its duplicates; 0 disables suppression.
	Interval time.Duration
	// now is the clock; time.Now when nil.
	now func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time
}

// First reports whether key is new (or its interval passed), and remembers it.
func (d *Deduper) First(key string) bool {
	if d.Interval <= 0 {
		return true
	}
	now := time.Now()
	if d.now != nil {
		now = d.now()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.seen = map[string]time.Time{}
	}
	if until, ok := d.seen[key]; ok && now.Before(until) {
		return false
	}
	if len(d.seen) >= maxDedupKeys {
		d.prune(now)
	}
	d.seen[key] = now.Add(d.Interval)
	return true
}

// prune drops the expired keys, and half of the rest when that is not enough.
func (d *Deduper) prune(now time.Time) {
	for k, until := range d.seen {
		if !now.Before(until) {
			delete(d.seen, k)
		}
	}
	if len(d.seen) < maxDedupKeys {
		return
	}
	n := 0
	for k := range d.seen {
		delete(d.seen, k)
		if n++; n >= maxDedupKeys/2 {
			return
		}
	}
}

// Forget drops key, so that the next event with it is new.
func (d *Deduper) Forget(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.seen, key)
}
