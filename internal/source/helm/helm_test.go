package helm

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func index(versions ...string) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nentries:\n  podinfo:\n")
	for _, v := range versions {
		fmt.Fprintf(&b, "  - apiVersion: v2\n    name: podinfo\n    version: %s\n    urls: [podinfo-%s.tgz]\n", v, v)
	}
	return []byte(b.String())
}

// TestIndexCacheParsesOncePerDigest: many charts asking at once for the same index revision
// share one parse; a new revision is parsed once more; the cache keeps at most Size indexes.
func TestIndexCacheParsesOncePerDigest(t *testing.T) {
	c := &IndexCache{Size: 2}
	one := index("6.0.0", "6.1.0")
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx, err := c.Get(Digest(one), func() ([]byte, error) { return one, nil })
			if err != nil {
				t.Error(err)
				return
			}
			if cv, err := ChartVersion(idx, "podinfo", "6.x"); err != nil || cv.Version != "6.1.0" {
				t.Errorf("ChartVersion = %v, %v", cv, err)
			}
		}()
	}
	wg.Wait()
	if got := c.Parses(); got != 1 {
		t.Errorf("%d parses of one index revision, want 1", got)
	}
	two, three := index("7.0.0"), index("8.0.0")
	for _, data := range [][]byte{two, three, one} {
		if _, err := c.Get(Digest(data), func() ([]byte, error) { return data, nil }); err != nil {
			t.Fatal(err)
		}
	}
	// one was evicted by two and three (Size 2), so asking again parsed it again.
	if got := c.Parses(); got != 4 {
		t.Errorf("%d parses, want 4", got)
	}
	if _, err := c.Get("sha256:00", func() ([]byte, error) { return one, nil }); err == nil {
		t.Error("a digest mismatch was cached")
	}
}

func TestChartVersionAndURLs(t *testing.T) {
	idx, err := ParseIndex(index("6.0.0", "6.1.0", "7.0.0-rc.1"))
	if err != nil {
		t.Fatal(err)
	}
	for want, ranges := range map[string][]string{"6.1.0": {"", "*", "6.x", ">=6.0.0 <7.0.0"}, "6.0.0": {"6.0.0", "~6.0"}, "7.0.0-rc.1": {">=7.0.0-0"}} {
		for _, r := range ranges {
			if cv, err := ChartVersion(idx, "podinfo", r); err != nil || cv.Version != want {
				t.Errorf("ChartVersion(%q) = %v, %v; want %s", r, cv, err, want)
			}
		}
	}
	if _, err := ChartVersion(idx, "podinfo", "9.x"); err == nil {
		t.Error("9.x matched")
	}
	if _, err := ParseIndex([]byte("entries: [")); err == nil {
		t.Error("a malformed index parsed")
	}
	for base, want := range map[string]string{"https://charts.example.com": "https://charts.example.com/podinfo-6.1.0.tgz",
		"https://charts.example.com/sub/": "https://charts.example.com/sub/podinfo-6.1.0.tgz"} {
		if got, err := ResolveChartURL(base, "podinfo-6.1.0.tgz"); err != nil || got != want {
			t.Errorf("ResolveChartURL(%s) = %s, %v", base, got, err)
		}
	}
	if got, _ := ResolveChartURL("https://a.example", "https://b.example/c.tgz"); got != "https://b.example/c.tgz" {
		t.Errorf("absolute chart URL rewritten: %s", got)
	}
}
