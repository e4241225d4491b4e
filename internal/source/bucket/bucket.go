// Package bucket fetches the objects of an S3-compatible bucket, through minio-go, the way
// Flux's Bucket source does: an index of keys and ETags whose digest is the revision, so an
// unchanged bucket costs one listing, and downloads confined to a directory. It knows nothing
// of Kubernetes.
package bucket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/sync/errgroup"
)

var (
	// ErrNotFound means the bucket does not exist.
	ErrNotFound = errors.New("bucket not found")
	// ErrUnsafeKey means an object key would leave the download directory.
	ErrUnsafeKey = errors.New("unsafe object key")
	// ErrTooLarge means the objects add up to more than the limit.
	ErrTooLarge = errors.New("bucket content over the size limit")
)

// IgnoreFile is the object at the bucket's root whose patterns leave objects out.
const IgnoreFile = ".sourceignore"

// Options are how to reach a bucket.
type Options struct {
	// Endpoint is host[:port], without scheme.
	Endpoint string
	// Insecure uses plain HTTP.
	Insecure bool
	// Region is the bucket's region, when the server needs it.
	Region string
	// AccessKey and SecretKey are static credentials; anonymous when empty.
	AccessKey, SecretKey string
	// Credentials, when set, replace the static ones (STS, instance roles).
	Credentials *credentials.Credentials
	// Transport carries TLS and proxy settings; the default transport when nil.
	Transport http.RoundTripper
}

// Client reads one bucket.
type Client struct {
	mc   *minio.Client
	name string
}

// New returns a client of the bucket name.
func New(name string, o Options) (*Client, error) {
	creds := o.Credentials
	if creds == nil {
		if o.AccessKey != "" && o.SecretKey != "" {
			creds = credentials.NewStaticV4(o.AccessKey, o.SecretKey, "")
		} else {
			creds = credentials.New(&credentials.Static{Value: credentials.Value{SignerType: credentials.SignatureAnonymous}})
		}
	}
	opts := &minio.Options{Creds: creds, Secure: !o.Insecure, Region: o.Region, Transport: o.Transport}
	mc, err := minio.New(o.Endpoint, opts)
	if err != nil {
		return nil, err
	}
	return &Client{mc: mc, name: name}, nil
}

// Index maps object keys to ETags.
type Index map[string]string

// Digest is Flux's revision of an index: the sha256 of "<key> <etag>\n" lines in key order.
func (ix Index) Digest() string {
	keys := make([]string, 0, len(ix))
	for k := range ix {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s %s\n", k, ix[k])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Ignored reports whether a key is left out.
type Ignored func(key string) bool

// Exists reports whether the bucket exists.
func (c *Client) Exists(ctx context.Context) (bool, error) {
	return c.mc.BucketExists(ctx, c.name)
}

// ReadIgnoreFile returns the content of the bucket's root .sourceignore, nil when it has none.
func (c *Client) ReadIgnoreFile(ctx context.Context) ([]byte, error) {
	obj, err := c.mc.GetObject(ctx, c.name, IgnoreFile, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Close() //nolint:errcheck // read side
	data, err := io.ReadAll(io.LimitReader(obj, 1<<20+1))
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, nil
		}
		return nil, err
	}
	if len(data) > 1<<20 {
		return nil, fmt.Errorf("%s is larger than 1 MiB", IgnoreFile)
	}
	return data, nil
}

// List indexes the objects under prefix that ignored does not leave out; directory markers
// and the ignore file are skipped. A key that would leave the download directory fails.
func (c *Client) List(ctx context.Context, prefix string, ignored Ignored) (Index, error) {
	ix := Index{}
	for o := range c.mc.ListObjects(ctx, c.name, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		if strings.HasSuffix(o.Key, "/") || o.Key == IgnoreFile {
			continue
		}
		if _, err := SafeKey(o.Key); err != nil {
			return nil, err
		}
		if ignored != nil && ignored(o.Key) {
			continue
		}
		ix[o.Key] = o.ETag
	}
	return ix, nil
}

// SafeKey returns the relative path an object key is downloaded to, refusing keys that are
// absolute, climb out with "..", or hold NUL or backslashes.
func SafeKey(key string) (string, error) {
	if key == "" || strings.ContainsAny(key, "\x00\\") || strings.HasPrefix(key, "/") {
		return "", fmt.Errorf("%w: '%s'", ErrUnsafeKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == ".." {
			return "", fmt.Errorf("%w: '%s'", ErrUnsafeKey, key)
		}
	}
	clean := path.Clean(key)
	if clean == "." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%w: '%s'", ErrUnsafeKey, key)
	}
	return clean, nil
}

// Download fetches every object of ix into dir, at most concurrency at a time and maxSize
// bytes in all (0: no limit). An object whose ETag changed since the listing is recorded with
// its new ETag; one that disappeared is dropped from ix.
func (c *Client) Download(ctx context.Context, ix Index, dir string, concurrency int, maxSize int64) error {
	if concurrency <= 0 {
		concurrency = 8
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close() //nolint:errcheck // directories only
	var (
		mu    sync.Mutex
		total int64
	)
	keys := make([]string, 0, len(ix))
	for k := range ix {
		keys = append(keys, k)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, key := range keys {
		g.Go(func() error {
			rel, err := SafeKey(key)
			if err != nil {
				return err
			}
			obj, err := c.mc.GetObject(gctx, c.name, key, minio.GetObjectOptions{})
			if err != nil {
				return fmt.Errorf("failed to get '%s' object: %w", key, err)
			}
			defer obj.Close() //nolint:errcheck // read side
			info, err := obj.Stat()
			if err != nil {
				if minio.ToErrorResponse(err).Code == "NoSuchKey" {
					mu.Lock()
					delete(ix, key)
					mu.Unlock()
					return nil
				}
				return fmt.Errorf("failed to get '%s' object: %w", key, err)
			}
			mu.Lock()
			total += info.Size
			over := maxSize > 0 && total > maxSize
			ix[key] = info.ETag
			mu.Unlock()
			if over {
				return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxSize)
			}
			if d := filepath.Dir(filepath.FromSlash(rel)); d != "." {
				if err := root.MkdirAll(d, 0o755); err != nil {
					return fmt.Errorf("failed to write '%s' object: %w", key, err)
				}
			}
			f, err := root.OpenFile(filepath.FromSlash(rel), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("failed to write '%s' object: %w", key, err)
			}
			_, werr := f.ReadFrom(obj)
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				return fmt.Errorf("failed to get '%s' object: %w", key, werr)
			}
			return nil
		})
	}
	return g.Wait()
}
