package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

var (
	// ErrNotFound means the registry has no such tag, digest or repository.
	ErrNotFound = errors.New("not found")
	// ErrInvalidRef means the ref cannot be used: a malformed digest, semver range or filter,
	// or no tag matching the range.
	ErrInvalidRef = errors.New("invalid reference")
)

// DefaultTag is what an OCIRepository without ref tracks.
const DefaultTag = "latest"

// Ref is an OCIRepository's spec.ref; the first of Digest, SemVer, Tag that is set wins, and
// none means the tag "latest".
type Ref struct {
	Digest, SemVer, SemverFilter, Tag string
}

// Resolved is a ref resolved to a manifest.
type Resolved struct {
	// Tag is the tag the ref resolved through; empty for a digest ref.
	Tag string
	// Digest is the manifest digest.
	Digest v1.Hash
	// Descriptor is the manifest's descriptor, from the registry's HEAD answer.
	Descriptor v1.Descriptor
	// Ref names the manifest by digest.
	Ref name.Digest
}

// Revision is Flux's artifact revision: "<tag>@sha256:<hex>", or "sha256:<hex>" for a digest ref.
func (r Resolved) Revision() string {
	if r.Tag == "" {
		return r.Digest.String()
	}
	return r.Tag + "@" + r.Digest.String()
}

// Resolve finds the manifest ref names in repo, with one HEAD request (and one tag listing for
// a semver ref).
func Resolve(ctx context.Context, repo name.Repository, ref Ref, opts Options) (Resolved, error) {
	ropts, err := opts.remoteOptions(remote.WithContext(ctx))
	if err != nil {
		return Resolved{}, err
	}
	var target name.Reference
	tag := ""
	switch {
	case ref.Digest != "":
		if _, err := v1.NewHash(ref.Digest); err != nil {
			return Resolved{}, fmt.Errorf("%w: digest '%s': %w", ErrInvalidRef, ref.Digest, err)
		}
		target = repo.Digest(ref.Digest)
	case ref.SemVer != "":
		tag, err = latestSemver(ctx, repo, ref, ropts)
		if err != nil {
			return Resolved{}, err
		}
		target = repo.Tag(tag)
	default:
		tag = ref.Tag
		if tag == "" {
			tag = DefaultTag
		}
		target = repo.Tag(tag)
	}
	desc, err := remote.Head(target, ropts...)
	if err != nil {
		return Resolved{}, classify(err, fmt.Sprintf("'%s'", target))
	}
	return Resolved{Tag: tag, Digest: desc.Digest, Descriptor: *desc, Ref: repo.Digest(desc.Digest.String())}, nil
}

// latestSemver lists the repository's tags and returns the highest that satisfies the range,
// among those matching the filter.
func latestSemver(ctx context.Context, repo name.Repository, ref Ref, ropts []remote.Option) (string, error) {
	constraint, err := semver.NewConstraint(ref.SemVer)
	if err != nil {
		return "", fmt.Errorf("%w: semver range '%s': %w", ErrInvalidRef, ref.SemVer, err)
	}
	var filter *regexp.Regexp
	if ref.SemverFilter != "" {
		if filter, err = regexp.Compile(ref.SemverFilter); err != nil {
			return "", fmt.Errorf("%w: semverFilter '%s': %w", ErrInvalidRef, ref.SemverFilter, err)
		}
	}
	tags, err := remote.List(repo, append(ropts, remote.WithContext(ctx))...)
	if err != nil {
		return "", classify(err, fmt.Sprintf("tags of '%s'", repo))
	}
	type candidate struct {
		tag string
		v   *semver.Version
	}
	var matches []candidate
	for _, t := range tags {
		if filter != nil && !filter.MatchString(t) {
			continue
		}
		v, err := semver.NewVersion(t)
		if err != nil || !constraint.Check(v) {
			continue
		}
		matches = append(matches, candidate{t, v})
	}
	if len(matches) == 0 {
		return "", fmt.Errorf("%w: no tag of '%s' matches semver range '%s'", ErrInvalidRef, repo, ref.SemVer)
	}
	sort.SliceStable(matches, func(i, j int) bool { return matches[i].v.GreaterThan(matches[j].v) })
	return matches[0].tag, nil
}

// classify wraps a registry error with ErrAuthentication or ErrNotFound where it is one;
// what names the thing asked for.
func classify(err error, what string) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w: %s: %w", ErrAuthentication, what, err)
		case http.StatusNotFound:
			return fmt.Errorf("%w: %s: %w", ErrNotFound, what, err)
		}
		for _, d := range te.Errors {
			switch d.Code {
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return fmt.Errorf("%w: %s: %w", ErrAuthentication, what, err)
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
				return fmt.Errorf("%w: %s: %w", ErrNotFound, what, err)
			}
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
