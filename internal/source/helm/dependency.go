package helm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	repo "helm.sh/helm/v4/pkg/repo/v1"

	"github.com/weirgitops/weir/internal/source/oci"
)

var (
	// ErrDependencyRepository means a dependency's repository is not one weir can fetch from:
	// an unknown scheme, or none for a chart charts/ lacks.
	ErrDependencyRepository = errors.New("invalid dependency repository URL")
	// ErrAliasedRepository means a dependency names its repository by a Helm client's alias
	// ("@name", "alias:name"), which a controller has no configuration for.
	ErrAliasedRepository = errors.New("aliased repository dependency is not supported")
	// ErrPathEscape means a file:// dependency leaves the source it is read from.
	ErrPathEscape = errors.New("path leaves the source")
)

// DefaultDependencyTimeout bounds the fetches from one dependency repository when its
// Repository sets no timeout, as Flux's default HelmRepository timeout.
const DefaultDependencyTimeout = 60 * time.Second

// RepositoryKind is how a dependency's chart is reached.
type RepositoryKind int

// The kinds of dependency repositories.
const (
	// LocalRepository is a file:// path, relative to the chart's directory.
	LocalRepository RepositoryKind = iota
	// HTTPRepository is an http(s):// chart repository with an index.yaml.
	HTTPRepository
	// OCIRepository is an oci:// registry path holding the chart as <path>/<name>.
	OCIRepository
)

// Repository is how to reach the repository of remote dependencies, as the caller found it
// for the repository's URL (a HelmRepository's credentials, TLS and stored index), or the
// zero value: anonymous, the index downloaded.
type Repository struct {
	// Client reaches an http(s) repository.
	Client Client
	// OCI reaches an oci:// repository.
	OCI oci.Options
	// Timeout bounds the fetches of each dependency from the repository;
	// DefaultDependencyTimeout when zero.
	Timeout time.Duration
	// IndexDigest and LoadIndex, when both are set, give the repository's index as stored
	// (read through the Dependencies' IndexCache) instead of downloading it.
	IndexDigest string
	LoadIndex   func() ([]byte, error)
}

// RepositoryLookup returns how to reach the repository at a URL normalised by
// NormalizeRepositoryURL.
type RepositoryLookup func(ctx context.Context, repoURL string) (Repository, error)

// Dependencies builds the dependencies a chart directory declares in Chart.yaml (or pins in
// Chart.lock) and lacks in charts/, as Flux's source-controller does: file:// paths from the
// source the chart is in, charts from http(s) repositories through their index, charts from
// OCI registries.
type Dependencies struct {
	// Root is the directory the source was extracted to: file:// dependencies stay in it.
	Root string
	// Chart is the chart's directory, inside Root.
	Chart string
	// Lookup finds how to reach a remote repository; anonymous when nil.
	Lookup RepositoryLookup
	// Indexes holds parsed indexes; each index is parsed for this build alone when nil.
	Indexes *IndexCache
	// MaxChartSize bounds each dependency's archive; MaxIndexSize each downloaded index.
	// Zero means the defaults.
	MaxChartSize, MaxIndexSize int64
}

// Missing returns the dependencies ch declares, Chart.lock's when it has one, that are not in
// its charts/ directory, in declaration order. A dependency is present when a chart of its
// name or alias is.
func Missing(ch *chart.Chart) []*chart.Dependency {
	reqs := ch.Metadata.Dependencies
	if ch.Lock != nil {
		reqs = ch.Lock.Dependencies
	}
	have := map[string]bool{}
	for _, c := range ch.Dependencies() {
		have[c.Name()] = true
	}
	var out []*chart.Dependency
	for _, d := range reqs {
		if have[d.Name] || (d.Alias != "" && have[d.Alias]) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// NormalizeRepositoryURL is the form repository URLs are compared in: an http(s) URL with one
// trailing slash, an oci:// URL with none. Other strings come back as they are.
func NormalizeRepositoryURL(raw string) string {
	switch {
	case raw == "":
		return ""
	case strings.HasPrefix(raw, oci.Prefix):
		return strings.TrimRight(raw, "/")
	case strings.HasPrefix(raw, "http://"), strings.HasPrefix(raw, "https://"):
		return strings.TrimRight(raw, "/") + "/"
	}
	return raw
}

// Kind classifies a dependency's repository field: file:// is local, http(s):// and oci://
// remote. Helm's repository aliases are refused, as Flux refuses them: an alias names a
// repository in a Helm client's configuration, which a controller does not have. An empty
// repository means the chart must be vendored in charts/.
func Kind(repository string) (RepositoryKind, error) {
	switch {
	case strings.HasPrefix(repository, "file://"):
		return LocalRepository, nil
	case strings.HasPrefix(repository, "http://"), strings.HasPrefix(repository, "https://"):
		return HTTPRepository, nil
	case strings.HasPrefix(repository, oci.Prefix):
		return OCIRepository, nil
	case strings.HasPrefix(repository, "@"), strings.HasPrefix(repository, "alias:"):
		return 0, fmt.Errorf("%w: '%s'", ErrAliasedRepository, repository)
	case repository == "":
		return 0, fmt.Errorf("%w: none given, and charts/ has no chart of that name", ErrDependencyRepository)
	}
	return 0, fmt.Errorf("%w: '%s'", ErrDependencyRepository, redactURL(repository))
}

// LocalPath resolves a file:// repository against the chart directory chartDir, lexically:
// the result is inside root, or the error wraps ErrPathEscape. As in Flux, the URL's host and
// path together are the path ("file://../common" is chartDir/../common), absolute paths
// included.
func LocalPath(root, chartDir, repository string) (string, error) {
	u, err := url.Parse(repository)
	if err != nil {
		return "", fmt.Errorf("invalid local chart reference '%s': %w", repository, err)
	}
	if u.Scheme != "file" {
		return "", fmt.Errorf("'%s' is not a local chart reference", repository)
	}
	p := filepath.Join(chartDir, u.Host, filepath.FromSlash(u.Path))
	if !within(root, p) {
		return "", fmt.Errorf("%w: '%s'", ErrPathEscape, repository)
	}
	return p, nil
}

// within reports whether p is root or below it (lexically).
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// OCIRef is the tag a chart version selects in an OCI repository: an exact version (with or
// without a leading "v") is the tag itself; a range, or nothing, the highest tag in it.
func OCIRef(version string) oci.Ref {
	if version != "" {
		if _, err := semver.StrictNewVersion(strings.TrimPrefix(version, "v")); err == nil {
			return oci.Ref{Tag: version}
		}
	}
	if version == "" {
		version = "*"
	}
	return oci.Ref{SemVer: version}
}

// dependencyName is how errors name a dependency: its alias, or its name.
func dependencyName(d *chart.Dependency) string {
	if d.Alias != "" {
		return d.Alias
	}
	return d.Name
}

// remoteRepository is a repository reached during one build, with its index once read.
type remoteRepository struct {
	Repository
	index *repo.IndexFile
}

// Build adds ch's missing dependencies (see Missing) to it, one after the other in declaration
// order, and returns how many it resolved. A chart asked for twice (two aliases of one chart)
// is added once. The first failure stops the build; its error names the dependency.
func (d *Dependencies) Build(ctx context.Context, ch *chart.Chart) (int, error) {
	missing := Missing(ch)
	if len(missing) == 0 {
		return 0, nil
	}
	root, err := filepath.EvalSymlinks(d.Root)
	if err != nil {
		return 0, fmt.Errorf("resolve source root: %w", err)
	}
	chartDir, err := filepath.EvalSymlinks(d.Chart)
	if err != nil {
		return 0, fmt.Errorf("resolve chart directory: %w", err)
	}
	repos := map[string]*remoteRepository{}
	added := map[string]bool{}
	for _, dep := range missing {
		key := dep.Name + "\x00" + dep.Repository + "\x00" + dep.Version
		if added[key] {
			continue
		}
		kind, err := Kind(dep.Repository)
		if err != nil {
			return 0, fmt.Errorf("failed to add dependency '%s': %w", dependencyName(dep), err)
		}
		var sub *chart.Chart
		if kind == LocalRepository {
			if sub, err = d.local(root, chartDir, dep); err != nil {
				return 0, fmt.Errorf("failed to add local dependency '%s': %w", dependencyName(dep), err)
			}
		} else if sub, err = d.remote(ctx, repos, kind, dep); err != nil {
			return 0, fmt.Errorf("failed to add remote dependency '%s': %w", dependencyName(dep), err)
		}
		added[key] = true
		ch.AddDependency(sub)
	}
	return len(missing), nil
}

// local loads a file:// dependency (a chart directory or archive) from the source and checks
// its version against the constraint.
func (d *Dependencies) local(root, chartDir string, dep *chart.Dependency) (*chart.Chart, error) {
	p, err := LocalPath(root, chartDir, dep.Repository)
	if err != nil {
		return nil, err
	}
	rel, _ := filepath.Rel(root, p)
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, fmt.Errorf("no chart found at '%s' (reference '%s')", filepath.ToSlash(rel), dep.Repository)
	}
	if !within(root, resolved) {
		return nil, fmt.Errorf("%w: '%s'", ErrPathEscape, dep.Repository)
	}
	constraint, err := semver.NewConstraint(dep.Version)
	if err != nil {
		return nil, fmt.Errorf("invalid version/constraint format '%s': %w", dep.Version, err)
	}
	sub, err := d.load(resolved)
	if err != nil {
		return nil, fmt.Errorf("failed to load chart from '%s' (reference '%s'): %w", filepath.ToSlash(rel), dep.Repository, err)
	}
	v, err := semver.NewVersion(sub.Metadata.Version)
	if err != nil {
		return nil, fmt.Errorf("chart at '%s' has an invalid version '%s': %w", filepath.ToSlash(rel), sub.Metadata.Version, err)
	}
	if !constraint.Check(v) {
		return nil, fmt.Errorf("can't get a valid version for constraint '%s'", dep.Version)
	}
	return sub, nil
}

// load reads a chart directory, or a chart archive within the size limit.
func (d *Dependencies) load(p string) (*chart.Chart, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return LoadDir(p)
	}
	if limit := d.maxChartSize(); fi.Size() > limit {
		return nil, fmt.Errorf("archive is %d bytes: %w (%d bytes)", fi.Size(), ErrTooLarge, limit)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return LoadArchive(data)
}

func (d *Dependencies) maxChartSize() int64 {
	if d.MaxChartSize > 0 {
		return d.MaxChartSize
	}
	return DefaultMaxChartSize
}

// remote resolves a dependency's version in its repository and downloads the chart.
func (d *Dependencies) remote(ctx context.Context, repos map[string]*remoteRepository, kind RepositoryKind, dep *chart.Dependency) (*chart.Chart, error) {
	repoURL := NormalizeRepositoryURL(dep.Repository)
	r, ok := repos[repoURL]
	if !ok {
		r = &remoteRepository{}
		if d.Lookup != nil {
			found, err := d.Lookup(ctx, repoURL)
			if err != nil {
				return nil, fmt.Errorf("failed to get chart repository for URL '%s': %w", redactURL(repoURL), err)
			}
			r.Repository = found
		}
		repos[repoURL] = r
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultDependencyTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if kind == OCIRepository {
		return d.fromOCI(ctx, repoURL, r, dep)
	}
	return d.fromIndex(ctx, repoURL, r, dep)
}

// fromIndex downloads a dependency from an http(s) repository, its version the highest in
// the index that satisfies the constraint (the latest stable one when there is none).
func (d *Dependencies) fromIndex(ctx context.Context, repoURL string, r *remoteRepository, dep *chart.Dependency) (*chart.Chart, error) {
	if r.index == nil {
		idx, err := d.index(ctx, repoURL, r.Repository)
		if err != nil {
			return nil, fmt.Errorf("failed to get chart '%s' version '%s' from '%s': %w", dep.Name, dep.Version, redactURL(dep.Repository), err)
		}
		r.index = idx
	}
	cv, err := ChartVersion(r.index, dep.Name, dep.Version)
	if err != nil {
		return nil, fmt.Errorf("failed to get chart '%s' version '%s' from '%s': %w", dep.Name, dep.Version, redactURL(dep.Repository), err)
	}
	_, sub, err := r.Client.FetchChart(ctx, repoURL, cv, d.maxChartSize())
	if err != nil {
		return nil, fmt.Errorf("chart download of version '%s' failed: %w", cv.Version, err)
	}
	return sub, nil
}

// index returns the repository's parsed index: the stored one when the repository has it,
// else downloaded.
func (d *Dependencies) index(ctx context.Context, repoURL string, r Repository) (*repo.IndexFile, error) {
	digest, load := r.IndexDigest, r.LoadIndex
	if digest == "" || load == nil {
		data, err := r.Client.FetchIndex(ctx, repoURL, d.MaxIndexSize)
		if err != nil {
			return nil, err
		}
		digest, load = Digest(data), func() ([]byte, error) { return data, nil }
	}
	if d.Indexes == nil {
		data, err := load()
		if err != nil {
			return nil, err
		}
		return ParseIndex(data)
	}
	return d.Indexes.Get(digest, load)
}

// fromOCI pulls a dependency from <repository>/<name> in an OCI registry: the version a tag,
// or the highest tag in the range.
func (d *Dependencies) fromOCI(ctx context.Context, repoURL string, r *remoteRepository, dep *chart.Dependency) (*chart.Chart, error) {
	ref, err := oci.ParseRepository(repoURL+"/"+dep.Name, r.OCI.Insecure)
	if err != nil {
		return nil, err
	}
	res, err := oci.Resolve(ctx, ref, OCIRef(dep.Version), r.OCI)
	if err != nil {
		return nil, fmt.Errorf("failed to get chart '%s' version '%s' from '%s': %w", dep.Name, dep.Version, redactURL(dep.Repository), err)
	}
	art, err := oci.Pull(ctx, res, oci.HelmChartContentMediaType, oci.Limits{MaxLayerSize: d.maxChartSize()}, r.OCI)
	if err != nil {
		return nil, fmt.Errorf("chart download of version '%s' failed: %w", res.Tag, err)
	}
	blob, err := art.Open()
	if err != nil {
		return nil, fmt.Errorf("chart download of version '%s' failed: %w", res.Tag, err)
	}
	defer blob.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(blob); err != nil {
		return nil, fmt.Errorf("chart download of version '%s' failed: %w", res.Tag, err)
	}
	sub, err := LoadArchive(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("failed to load downloaded archive of version '%s': %w", res.Tag, err)
	}
	return sub, nil
}
