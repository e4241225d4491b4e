package git

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Options says what to fetch and how.
type Options struct {
	// URL of the repository: http://, https:// or ssh://.
	URL string
	// Reference to resolve and check out.
	Reference Reference
	// Auth holds credentials and transport settings.
	Auth Auth
	// RecurseSubmodules also checks out submodules, nested ones too, with
	// Auth's TLS settings and proxy, and its credentials on the same host.
	RecurseSubmodules bool
	// SparseCheckout limits the checkout to these directories.
	SparseCheckout []string
}

// remoteRefs is a listing of a remote's references: name to hash, with
// annotated tags peeled to their commits.
type remoteRefs struct {
	hashes map[string]string
	peeled map[string]string
}

// commit returns the commit a listed reference points at.
func (r remoteRefs) commit(name string) (string, bool) {
	if h, ok := r.peeled[name]; ok {
		return h, true
	}
	h, ok := r.hashes[name]
	return h, ok
}

// LatestRevision resolves opts.Reference against the remote with a single
// reference listing and no clone, so checking an unchanged repository costs
// one round trip. A Commit reference is returned as is, without I/O.
func LatestRevision(ctx context.Context, opts Options) (Revision, error) {
	u, err := ParseURL(opts.URL)
	if err != nil {
		return Revision{}, err
	}
	ref := opts.Reference
	if err := ref.validate(); err != nil {
		return Revision{}, err
	}
	if ref.kind() == kindCommit {
		return commitRevision(ref), nil
	}
	tr, err := transportFor(u, opts.Auth)
	if err != nil {
		return Revision{}, err
	}
	refs, err := listRefs(ctx, opts.URL, tr)
	if err != nil {
		return Revision{}, scrub(fmt.Errorf("list refs of %s: %w", RedactURL(opts.URL), err), append(opts.Auth.secrets(), urlSecrets(opts.URL)...)...)
	}
	rev, err := resolve(ref, refs)
	if err != nil {
		return Revision{}, fmt.Errorf("resolve %s in %s: %w", ref, RedactURL(opts.URL), err)
	}
	return rev, nil
}

func commitRevision(ref Reference) Revision {
	if ref.Branch != "" {
		return Revision{Name: ref.Branch, Ref: "refs/heads/" + ref.Branch, Hash: ref.Commit}
	}
	return Revision{Hash: ref.Commit}
}

func listRefs(ctx context.Context, rawURL string, tr transportOptions) (remoteRefs, error) {
	remote := gogit.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{rawURL}})
	list, err := remote.ListContext(ctx, &gogit.ListOptions{
		Auth:          tr.auth,
		CABundle:      tr.caBundle,
		ClientCert:    tr.clientCert,
		ClientKey:     tr.clientKey,
		ProxyOptions:  tr.proxy,
		PeelingOption: gogit.AppendPeeled,
	})
	if err != nil {
		return remoteRefs{}, classify(err)
	}
	out := remoteRefs{hashes: map[string]string{}, peeled: map[string]string{}}
	for _, r := range list {
		name := r.Name().String()
		if base, ok := strings.CutSuffix(name, "^{}"); ok {
			out.peeled[base] = r.Hash().String()
			continue
		}
		if r.Hash().IsZero() {
			continue // symbolic references such as HEAD
		}
		out.hashes[name] = r.Hash().String()
	}
	return out, nil
}

// resolve picks the reference's commit from a listing.
func resolve(ref Reference, refs remoteRefs) (Revision, error) {
	var name, full string
	switch ref.kind() {
	case kindCommit:
		return commitRevision(ref), nil
	case kindName:
		name, full = ref.Name, ref.Name
	case kindSemVer:
		tag, err := highestTag(ref.SemVer, refs)
		if err != nil {
			return Revision{}, err
		}
		name, full = tag, "refs/tags/"+tag
	case kindTag:
		name, full = ref.Tag, "refs/tags/"+ref.Tag
	default:
		name, full = ref.branch(), "refs/heads/"+ref.branch()
	}
	hash, ok := refs.commit(full)
	if !ok {
		return Revision{}, fmt.Errorf("%w: %s", ErrReferenceNotFound, full)
	}
	return Revision{Name: name, Ref: full, Hash: hash}, nil
}

// highestTag returns the tag with the highest version satisfying the
// constraint. Tags that are not versions are ignored; among tags with equal
// versions ("v1.0.0" and "1.0.0") the lexically greatest name wins, so the
// choice is deterministic.
func highestTag(constraint string, refs remoteRefs) (string, error) {
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", fmt.Errorf("%w: semver constraint %q: %w", ErrReferenceNotFound, constraint, err)
	}
	type candidate struct {
		tag string
		v   *semver.Version
	}
	var cs []candidate
	for name := range refs.hashes {
		tag, ok := strings.CutPrefix(name, "refs/tags/")
		if !ok {
			continue
		}
		v, err := semver.NewVersion(tag)
		if err != nil || !c.Check(v) {
			continue
		}
		cs = append(cs, candidate{tag, v})
	}
	if len(cs) == 0 {
		return "", fmt.Errorf("%w: no tag matches semver %q", ErrReferenceNotFound, constraint)
	}
	sort.Slice(cs, func(i, j int) bool {
		if cmp := cs[i].v.Compare(cs[j].v); cmp != 0 {
			return cmp > 0
		}
		return cs[i].tag > cs[j].tag
	})
	return cs[0].tag, nil
}
