package helm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	repo "helm.sh/helm/v4/pkg/repo/v1"
)

var (
	// ErrTooLarge means an index or chart is over its size limit.
	ErrTooLarge = errors.New("over the size limit")
	// ErrAuthentication means the server refused the credentials.
	ErrAuthentication = errors.New("authentication failed")
	// ErrInvalidURL means a repository URL is not http(s)://.
	ErrInvalidURL = errors.New("invalid URL")
)

// Default size limits, Flux's.
const (
	DefaultMaxIndexSize = 50 << 20
	DefaultMaxChartSize = 10 << 20
)

// Client reaches a chart repository over HTTP(S).
type Client struct {
	// Username and Password are sent as basic auth to the repository's host (and to every
	// host when PassCredentials).
	Username, Password string
	PassCredentials    bool
	// Transport carries TLS and proxy settings; the default transport when nil.
	Transport http.RoundTripper
	// UserAgent identifies weir.
	UserAgent string
}

// ParseRepositoryURL checks an http(s) repository URL.
func ParseRepositoryURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: '%s' is not an http(s) URL", ErrInvalidURL, raw)
	}
	return u, nil
}

// IndexURL is the index.yaml of a repository URL.
func IndexURL(repoURL string) string {
	return strings.TrimSuffix(repoURL, "/") + "/index.yaml"
}

// get downloads u within limit bytes; credentials go to repoHost, or everywhere with
// PassCredentials.
func (c Client) get(ctx context.Context, u, repoHost string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if c.Username != "" && (c.PassCredentials || req.URL.Host == repoHost) {
		req.SetBasicAuth(c.Username, c.Password)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	t := c.Transport
	if t == nil {
		t = http.DefaultTransport
	}
	resp, err := (&http.Client{Transport: t}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("failed to fetch %s: %w", redactURL(u), err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%w: %s: %s", ErrAuthentication, redactURL(u), resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("failed to fetch %s: %s", redactURL(u), resp.Status)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%s is %d bytes: %w (%d bytes)", redactURL(u), resp.ContentLength, ErrTooLarge, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("failed to fetch %s: %w", redactURL(u), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", redactURL(u), limit, ErrTooLarge)
	}
	return data, nil
}

func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.User = nil
	return p.String()
}

// FetchIndex downloads the repository's index.yaml (parsing it is the caller's, once per
// revision: see IndexCache).
func (c Client) FetchIndex(ctx context.Context, repoURL string, limit int64) ([]byte, error) {
	u, err := ParseRepositoryURL(repoURL)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultMaxIndexSize
	}
	return c.get(ctx, IndexURL(repoURL), u.Host, limit)
}

// ParseIndex parses index.yaml with the Helm SDK (entries validated and sorted, newest first).
func ParseIndex(data []byte) (*repo.IndexFile, error) {
	// The SDK parses from a file only; the file lives as long as the call.
	f, err := os.CreateTemp("", "weir-index-*.yaml")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	idx, err := repo.LoadIndexFile(f.Name())
	if err != nil {
		return nil, fmt.Errorf("invalid index: %w", errors.Unwrap(err))
	}
	return idx, nil
}

// Digest is "sha256:<hex>" of data.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// IndexCache holds parsed indexes by digest, at most Size of them (least recently used go
// first): charts of one repository share one parse per index revision.
type IndexCache struct {
	Size int

	mu      sync.Mutex
	entries map[string]*indexEntry
	order   []string
	parses  int
}

type indexEntry struct {
	once  sync.Once
	index *repo.IndexFile
	err   error
}

// Get returns the parsed index of digest, reading and parsing it with load on a miss; callers
// for the same digest wait for one parse.
func (c *IndexCache) Get(digest string, load func() ([]byte, error)) (*repo.IndexFile, error) {
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*indexEntry{}
	}
	e, ok := c.entries[digest]
	if !ok {
		e = &indexEntry{}
		c.entries[digest] = e
	}
	c.touch(digest)
	c.mu.Unlock()
	e.once.Do(func() {
		data, err := load()
		if err != nil {
			e.err = err
			return
		}
		if Digest(data) != digest {
			e.err = fmt.Errorf("index digest mismatch: want %s", digest)
			return
		}
		c.mu.Lock()
		c.parses++
		c.mu.Unlock()
		e.index, e.err = ParseIndex(data)
	})
	if e.err != nil {
		c.mu.Lock()
		if c.entries[digest] == e {
			delete(c.entries, digest)
		}
		c.mu.Unlock()
	}
	return e.index, e.err
}

// Parses counts the parses done, for tests and metrics.
func (c *IndexCache) Parses() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parses
}

func (c *IndexCache) touch(digest string) {
	for i, d := range c.order {
		if d == digest {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
	c.order = append(c.order, digest)
	size := c.Size
	if size <= 0 {
		size = 8
	}
	for len(c.order) > size {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
}

// ResolveChartURL resolves a chart URL of an index entry against the repository URL, as helm
// does: absolute URLs stay, relative ones are relative to the repository's base.
func ResolveChartURL(repoURL, chartURL string) (string, error) {
	ref, err := url.Parse(chartURL)
	if err != nil {
		return "", fmt.Errorf("invalid chart URL '%s': %w", chartURL, err)
	}
	if ref.IsAbs() {
		return chartURL, nil
	}
	base, err := url.Parse(strings.TrimSuffix(repoURL, "/") + "/")
	if err != nil {
		return "", err
	}
	return base.ResolveReference(ref).String(), nil
}
