package source

import (
	"context"
	"slices"
	"sync"

	"github.com/weirgitops/weir/internal/artifact"
)

// maxFetchEntries bounds the fetch cache; an evicted entry only costs a fetch.
const maxFetchEntries = 4096

// fetchEntry is a stored artifact that other sources with the same content can copy, with what
// its fetch learnt besides the file (T): an OCI artifact's annotations, a Git commit.
type fetchEntry[T any] struct {
	rec  artifact.Record
	data T
}

// fetchCache makes sources that point at the same content fetch it once: concurrent callers
// wait for the one fetch, later ones copy its stored file. Its key must name everything that
// makes the content, and everything that must not be shared, such as credentials.
//
// The one fetch runs in its caller's goroutine (it writes that caller's object), which is why
// this is not golang.org/x/sync/singleflight: a waiter whose context ends stops waiting, and
// the fetch it waited for must not go on writing an object nobody owns any more.
type fetchCache[T any] struct {
	mu       sync.Mutex
	entries  map[string]fetchEntry[T]
	order    []string
	inflight map[string]*fetchCall[T]
}

type fetchCall[T any] struct {
	done  chan struct{}
	entry fetchEntry[T]
	err   error
}

// share gives self its artifact of the content key names, stored as file with revision. When
// no source stored that content yet, fetch stores it for self (once, however many callers wait
// for it) and its entry is returned as it is. Otherwise self gets a copy of the stored file,
// checked against its recorded digest, once use (nil: always) accepted the entry's data: use
// says whether the entry fits self at all (false: self fetches for itself) and runs self's own
// checks, whose error is returned. An entry whose file was collected or changed since is
// dropped, and self fetches for itself.
func (c *fetchCache[T]) share(ctx context.Context, store *artifact.Store, self artifact.Object, key, file, revision string,
	fetch func() (fetchEntry[T], error), use func(T) (bool, error)) (fetchEntry[T], error) {
	e, ran, err := c.do(ctx, key, fetch)
	if err != nil || ran {
		return e, err
	}
	if use != nil {
		fits, err := use(e.data)
		if err != nil {
			return fetchEntry[T]{}, err
		}
		if !fits {
			return c.fetchOwn(key, fetch)
		}
	}
	rec, err := store.Clone(ctx, self, file, revision, e.rec)
	if err != nil {
		// The first copy was collected or rewritten: fetch again for this object.
		c.drop(key)
		return c.fetchOwn(key, fetch)
	}
	return fetchEntry[T]{rec: rec, data: e.data}, nil
}

// do returns the entry of key, running fetch when there is none: once for all concurrent callers
// of key. When that fetch fails, each of the others runs its own, because the failure may be the
// first caller's own (its Secret, its timeout). ran says whether the caller's fetch ran.
func (c *fetchCache[T]) do(ctx context.Context, key string, fetch func() (fetchEntry[T], error)) (e fetchEntry[T], ran bool, err error) {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		c.mu.Unlock()
		return e, false, nil
	}
	if call, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-call.done:
		case <-ctx.Done():
			return e, false, ctx.Err()
		}
		if call.err != nil {
			e, err := c.fetchOwn(key, fetch)
			return e, true, err
		}
		return call.entry, false, nil
	}
	call := &fetchCall[T]{done: make(chan struct{})}
	if c.inflight == nil {
		c.inflight = map[string]*fetchCall[T]{}
	}
	c.inflight[key] = call
	c.mu.Unlock()

	call.entry, call.err = fetch()
	if call.err == nil {
		c.put(key, call.entry)
	}
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	close(call.done)
	return call.entry, true, call.err
}

// fetchOwn runs the caller's own fetch, outside the one-fetch-per-key coordination, and keeps
// its entry when it succeeds.
func (c *fetchCache[T]) fetchOwn(key string, fetch func() (fetchEntry[T], error)) (fetchEntry[T], error) {
	e, err := fetch()
	if err == nil {
		c.put(key, e)
	}
	return e, err
}

func (c *fetchCache[T]) put(key string, e fetchEntry[T]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]fetchEntry[T]{}
	}
	if _, ok := c.entries[key]; !ok {
		c.order = append(c.order, key)
	}
	c.entries[key] = e
	for len(c.order) > maxFetchEntries {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
}

func (c *fetchCache[T]) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok {
		return
	}
	delete(c.entries, key)
	c.order = slices.DeleteFunc(c.order, func(k string) bool { return k == key })
}
