package artifact

import (
	"net/http"
	"os"
	"path"
	"strings"
)

// Handler serves the store's files over HTTP (GET and HEAD), at their
// store-relative paths. Paths are confined to the root with os.Root, so
// neither ".." nor a symlink can reach outside it; directories, hidden files
// (temporary files are hidden) and missing files answer 404.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" || hidden(name) {
			http.NotFound(w, r)
			return
		}
		root, err := os.OpenRoot(s.root)
		if err != nil {
			http.Error(w, "storage unavailable", http.StatusInternalServerError)
			return
		}
		defer root.Close() //nolint:errcheck // read-only root
		f, err := root.Open(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
	})
}

func hidden(name string) bool {
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}
