package source

import (
	"sync"

	"github.com/weirgitops/weir/internal/artifact"
)

// maxFetchEntries bounds the fetch cache; an evicted entry only costs a fetch.
const maxFetchEntries = 4096

// fetchEntry is a stored artifact that other sources with the same content can copy.
type fetchEntry struct {
	annotations map[string]string
	rec         artifact.Record
	owner       artifact.Object
}

// fetchCache makes sources that point at the same content (an OCI manifest digest with the
// same layer selection and ignore rules) fetch it once: concurrent callers wait for the one
// fetch, later ones copy its stored file.
type fetchCache struct {
	mu       sync.Mutex
	entries  map[string]fetchEntry
	order    []string
	inflight map[string]*fetchCall
}

type fetchCall struct {
	done  chan struct{}
	entry fetchEntry
	err   error
}

// do returns the entry of key, running fetch when there is none (once, however many callers).
func (c *fetchCache) do(key string, fetch func() (fetchEntry, error)) (fetchEntry, error) {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		c.mu.Unlock()
		return e, nil
	}
	if call, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		<-call.done
		if call.err != nil {
			// The first caller's failure may be its own (its Secret, its timeout): fetch anew.
			return fetch()
		}
		return call.entry, nil
	}
	call := &fetchCall{done: make(chan struct{})}
	if c.inflight == nil {
		c.inflight = map[string]*fetchCall{}
	}
	c.inflight[key] = call
	c.mu.Unlock()

	call.entry, call.err = fetch()
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	if call.err == nil {
		c.put(key, call.entry)
	}
	close(call.done)
	return call.entry, call.err
}

func (c *fetchCache) put(key string, e fetchEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]fetchEntry{}
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

func (c *fetchCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}
