package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrTooManyTags means a repository lists more tags than the caller's bound.
var ErrTooManyTags = errors.New("too many tags")

// maxTagPage bounds one tag listing response: a page of 10,000 tags of the longest length
// the OCI spec allows is 1.3 MB.
const maxTagPage = 16 << 20

// ParseImage parses an ImageRepository's spec.image: a repository without scheme, tag or
// digest ("alpine", "ghcr.io/org/app", "localhost:5000/app"). The repository's Name() is its
// canonical form (index.docker.io/library/alpine). insecure allows plain HTTP.
func ParseImage(image string, insecure bool) (name.Repository, error) {
	if image == "" {
		return name.Repository{}, fmt.Errorf("%w: empty image", ErrInvalidURL)
	}
	if strings.Contains(image, "://") {
		return name.Repository{}, fmt.Errorf("%w: image '%s' must not have a scheme", ErrInvalidURL, image)
	}
	last := image[strings.LastIndex(image, "/")+1:]
	if strings.Contains(image, "@") || strings.Contains(last, ":") {
		return name.Repository{}, fmt.Errorf("%w: image '%s' must not name a tag or digest", ErrInvalidURL, image)
	}
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(image, opts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("%w: could not parse reference '%s': %w", ErrInvalidURL, image, err)
	}
	return repo, nil
}

// ListTags lists every tag of repo, following the registry's pagination, and fails with
// ErrTooManyTags past maxTags (no bound when maxTags <= 0).
func ListTags(ctx context.Context, repo name.Repository, maxTags int, opts Options) ([]string, error) {
	ropts, err := opts.remoteOptions(remote.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	t, err := opts.Transport()
	if err != nil {
		return nil, err
	}
	ropts = append(ropts, remote.WithTransport(limitedBodies{rt: t, max: maxTagPage}))
	p, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, err
	}
	l, err := p.Lister(ctx, repo)
	if err != nil {
		return nil, classify(err, fmt.Sprintf("tags of '%s'", repo))
	}
	var tags []string
	for l.HasNext() {
		page, err := l.Next(ctx)
		if err != nil {
			return nil, classify(err, fmt.Sprintf("tags of '%s'", repo))
		}
		tags = append(tags, page.Tags...)
		if maxTags > 0 && len(tags) > maxTags {
			return nil, fmt.Errorf("%w: '%s' has more than %d tags", ErrTooManyTags, repo, maxTags)
		}
	}
	return tags, nil
}

// limitedBodies fails the reading of a response body past max bytes.
type limitedBodies struct {
	rt  http.RoundTripper
	max int64
}

func (l limitedBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: l.max}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("registry response larger than %d bytes", maxTagPage)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
