package artifact

import "sync"

// Event says that an artifact was stored.
type Event struct {
	// Object owns the artifact.
	Object Object
	// Revision is the source revision of the artifact.
	Revision string
	// Record is the stored artifact.
	Record Record
}

// bus delivers events to subscribers without blocking the publisher.
type bus struct {
	busMu sync.Mutex
	subs  map[*subscriber]struct{}
}

type subscriber struct {
	fn      func(Event)
	mu      sync.Mutex
	pending map[string]Event // latest event per object
	order   []string         // objects in arrival order
	wake    chan struct{}
	done    chan struct{}
}

// Subscribe calls fn, on a goroutine of the subscription, for every artifact
// stored from now on, in order per object. While fn runs, newer events for
// the same object replace older undelivered ones, so a slow subscriber holds
// at most one pending event per object. cancel stops delivery; it does not
// wait for a running fn.
func (b *bus) Subscribe(fn func(Event)) (cancel func()) {
	s := &subscriber{
		fn:      fn,
		pending: map[string]Event{},
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	b.busMu.Lock()
	if b.subs == nil {
		b.subs = map[*subscriber]struct{}{}
	}
	b.subs[s] = struct{}{}
	b.busMu.Unlock()
	go s.run()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.busMu.Lock()
			delete(b.subs, s)
			b.busMu.Unlock()
			close(s.done)
		})
	}
}

func (b *bus) publish(ev Event) {
	key := ev.Object.String()
	b.busMu.Lock()
	defer b.busMu.Unlock()
	for s := range b.subs {
		s.mu.Lock()
		if _, ok := s.pending[key]; !ok {
			s.order = append(s.order, key)
		}
		s.pending[key] = ev
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (s *subscriber) run() {
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if len(s.order) == 0 {
				s.mu.Unlock()
				break
			}
			key := s.order[0]
			s.order = s.order[1:]
			ev := s.pending[key]
			delete(s.pending, key)
			s.mu.Unlock()
			select {
			case <-s.done:
				return
			default:
			}
			s.fn(ev)
		}
	}
}
