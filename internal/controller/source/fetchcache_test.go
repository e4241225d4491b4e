package source

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/weirgitops/weir/internal/artifact"
)

func newTestStore(t *testing.T) *artifact.Store {
	t.Helper()
	s, err := artifact.New(artifact.Options{Root: t.TempDir(), AdvertisedAddr: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// putFetch returns a fetch that stores content for self and counts its runs.
func putFetch(t *testing.T, store *artifact.Store, self artifact.Object, content string, runs *atomic.Int32) func() (fetchEntry[string], error) {
	return func() (fetchEntry[string], error) {
		runs.Add(1)
		rec, err := store.Put(t.Context(), self, "a.tar.gz", "rev", strings.NewReader(content))
		return fetchEntry[string]{rec: rec, data: "fetched by " + self.Name}, err
	}
}

func object(name string) artifact.Object {
	return artifact.Object{Kind: "GitRepository", Namespace: "ns", Name: name}
}

// TestFetchCacheShare runs share's paths: concurrent callers fetch once and each gets its
// own copy; a failed fetch is not shared; a waiter whose context ends stops waiting; use can
// refuse an entry or fail; a collected file is fetched again.
func TestFetchCacheShare(t *testing.T) {
	t.Run("one fetch for concurrent callers", func(t *testing.T) {
		store := newTestStore(t)
		var c fetchCache[string]
		var runs atomic.Int32
		var wg sync.WaitGroup
		recs := make([]artifact.Record, 8)
		errs := make([]error, 8)
		for i := range recs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				self := object(fmt.Sprint(i))
				e, err := c.share(t.Context(), store, self, "key", "a.tar.gz", "rev", putFetch(t, store, self, "content", &runs), nil)
				recs[i], errs[i] = e.rec, err
			}()
		}
		wg.Wait()
		if n := runs.Load(); n != 1 {
			t.Errorf("%d fetches, want 1", n)
		}
		for i, rec := range recs {
			if errs[i] != nil {
				t.Fatalf("caller %d: %v", i, errs[i])
			}
			if want := fmt.Sprintf("gitrepository/ns/%d/a.tar.gz", i); rec.Path != want || rec.Digest != recs[0].Digest {
				t.Errorf("caller %d: %s %s, want %s %s", i, rec.Path, rec.Digest, want, recs[0].Digest)
			}
		}
	})

	t.Run("failures are not shared", func(t *testing.T) {
		store := newTestStore(t)
		var c fetchCache[string]
		boom := errors.New("boom")
		if _, err := c.share(t.Context(), store, object("a"), "key", "a.tar.gz", "rev",
			func() (fetchEntry[string], error) { return fetchEntry[string]{}, boom }, nil); !errors.Is(err, boom) {
			t.Fatalf("error = %v, want boom", err)
		}
		var runs atomic.Int32
		if _, err := c.share(t.Context(), store, object("b"), "key", "a.tar.gz", "rev", putFetch(t, store, object("b"), "x", &runs), nil); err != nil || runs.Load() != 1 {
			t.Fatalf("after a failure: %v, %d fetches; want the caller's own fetch", err, runs.Load())
		}
	})

	t.Run("a waiter's context ends its wait", func(t *testing.T) {
		store := newTestStore(t)
		var c fetchCache[string]
		started, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			_, err := c.share(t.Context(), store, object("a"), "key", "a.tar.gz", "rev", func() (fetchEntry[string], error) {
				close(started)
				<-release
				return fetchEntry[string]{}, errors.New("slow and failed")
			}, nil)
			done <- err
		}()
		<-started
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var runs atomic.Int32
		if _, err := c.share(ctx, store, object("b"), "key", "a.tar.gz", "rev", putFetch(t, store, object("b"), "x", &runs), nil); !errors.Is(err, context.Canceled) || runs.Load() != 0 {
			t.Errorf("waiter: %v, %d fetches; want context.Canceled and none", err, runs.Load())
		}
		close(release)
		if err := <-done; err == nil {
			t.Error("the first caller's fetch did not fail")
		}
	})

	t.Run("use refuses or fails", func(t *testing.T) {
		store := newTestStore(t)
		var c fetchCache[string]
		var runs atomic.Int32
		if _, err := c.share(t.Context(), store, object("a"), "key", "a.tar.gz", "rev", putFetch(t, store, object("a"), "x", &runs), nil); err != nil {
			t.Fatal(err)
		}
		refused := errors.New("untrusted")
		_, err := c.share(t.Context(), store, object("b"), "key", "a.tar.gz", "rev", putFetch(t, store, object("b"), "x", &runs),
			func(string) (bool, error) { return true, refused })
		if !errors.Is(err, refused) || runs.Load() != 1 {
			t.Errorf("use failing: %v, %d fetches; want its error and no fetch", err, runs.Load())
		}
		e, err := c.share(t.Context(), store, object("c"), "key", "a.tar.gz", "rev", putFetch(t, store, object("c"), "x", &runs),
			func(string) (bool, error) { return false, nil })
		if err != nil || runs.Load() != 2 || e.data != "fetched by c" {
			t.Errorf("use refusing: %v, %d fetches, %q; want c's own fetch", err, runs.Load(), e.data)
		}
	})

	t.Run("a collected file is fetched again", func(t *testing.T) {
		store := newTestStore(t)
		var c fetchCache[string]
		var runs atomic.Int32
		if _, err := c.share(t.Context(), store, object("a"), "key", "a.tar.gz", "rev", putFetch(t, store, object("a"), "x", &runs), nil); err != nil {
			t.Fatal(err)
		}
		if err := store.Delete(t.Context(), object("a")); err != nil {
			t.Fatal(err)
		}
		e, err := c.share(t.Context(), store, object("b"), "key", "a.tar.gz", "rev", putFetch(t, store, object("b"), "x", &runs), nil)
		if err != nil || runs.Load() != 2 || e.rec.Path != "gitrepository/ns/b/a.tar.gz" {
			t.Errorf("%v, %d fetches, %+v; want b's own fetch", err, runs.Load(), e.rec)
		}
		// b's entry replaced a's.
		if _, err := c.share(t.Context(), store, object("c"), "key", "a.tar.gz", "rev", putFetch(t, store, object("c"), "x", &runs), nil); err != nil || runs.Load() != 2 {
			t.Errorf("%v, %d fetches; want a copy of b's", err, runs.Load())
		}
	})
}
