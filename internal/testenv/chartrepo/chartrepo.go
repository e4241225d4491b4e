// Package chartrepo serves a Helm chart repository over HTTP for tests: charts packaged with
// the Helm SDK, an index.yaml generated for them, optional basic auth, request counting.
package chartrepo

import (
	"crypto/subtle"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
)

// Chart describes a chart to package: name, version, and files (path → content: templates/…,
// values.yaml, values.schema.json, crds/…, any other file).
type Chart struct {
	Name, Version string
	Files         map[string]string
}

// Package builds the chart's .tgz with the Helm SDK, as `helm package` does.
func Package(t testing.TB, c Chart) []byte {
	t.Helper()
	ch := &chart.Chart{Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: c.Name, Version: c.Version, AppVersion: c.Version}}
	for name, content := range c.Files {
		f := &common.File{Name: name, Data: []byte(content), ModTime: time.Unix(0, 0)}
		switch {
		case name == chartutil.ValuesfileName:
			ch.Raw = append(ch.Raw, f)
		case name == chartutil.SchemafileName:
			ch.Schema = []byte(content)
		case strings.HasPrefix(name, "templates/"):
			ch.Templates = append(ch.Templates, f)
		default:
			ch.Files = append(ch.Files, f)
		}
	}
	dir := t.TempDir()
	p, err := chartutil.Save(ch, dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Options configure a Server.
type Options struct {
	// Username and Password, when set, are required.
	Username, Password string
}

// Server is a chart repository.
type Server struct {
	srv  *httptest.Server
	dir  string
	opts Options

	mu       sync.Mutex
	requests map[string]int
	raw      map[string][]byte
}

// New starts an empty repository that stops when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{dir: t.TempDir(), opts: opts, requests: map[string]int{}, raw: map[string][]byte{}}
	files := http.FileServer(http.Dir(s.dir))
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opts.Username != "" {
			u, p, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(opts.Username)) != 1 ||
				subtle.ConstantTimeCompare([]byte(p), []byte(opts.Password)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		s.mu.Lock()
		s.requests[r.URL.Path]++
		raw, ok := s.raw[r.URL.Path]
		s.mu.Unlock()
		if ok {
			_, _ = w.Write(raw)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	s.writeIndex(t)
	return s
}

// URL is the repository's URL.
func (s *Server) URL() string { return s.srv.URL }

// Add packages charts into the repository and regenerates index.yaml.
func (s *Server) Add(t testing.TB, charts ...Chart) {
	t.Helper()
	for _, c := range charts {
		if err := os.WriteFile(filepath.Join(s.dir, c.Name+"-"+c.Version+".tgz"), Package(t, c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.writeIndex(t)
}

// AddArchive puts an archive as it is (hand-made, possibly broken) under name and indexes it
// as chart@version.
func (s *Server) AddArchive(t testing.TB, chartName, version string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, chartName+"-"+version+".tgz"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	idx, err := repo.LoadIndexFile(filepath.Join(s.dir, "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.MustAdd(&chart.Metadata{APIVersion: chart.APIVersionV2, Name: chartName, Version: version}, chartName+"-"+version+".tgz", s.URL(), ""); err != nil {
		t.Fatal(err)
	}
	idx.SortEntries()
	if err := idx.WriteFile(filepath.Join(s.dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// SetRaw serves data at path instead of the file (a malformed index, for example); nil
// stops doing so.
func (s *Server) SetRaw(path string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if data == nil {
		delete(s.raw, path)
		return
	}
	s.raw[path] = data
}

// Requests counts the requests for path.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

func (s *Server) writeIndex(t testing.TB) {
	t.Helper()
	idx, err := repo.IndexDirectory(s.dir, s.URL())
	if err != nil {
		t.Fatal(err)
	}
	idx.SortEntries()
	if err := idx.WriteFile(filepath.Join(s.dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
}
