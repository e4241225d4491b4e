package oci

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// tagServer serves /v2/ and a tag listing of repository "app" in pages.
func tagServer(t *testing.T, pages [][]string, body func(page int) string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		page := 0
		if p := r.URL.Query().Get("page"); p != "" {
			_, _ = fmt.Sscan(p, &page)
		}
		if body != nil {
			_, _ = w.Write([]byte(body(page)))
			return
		}
		if page+1 < len(pages) {
			w.Header().Set("Link", fmt.Sprintf(`</v2/app/tags/list?page=%d>; rel="next"`, page+1))
		}
		_, _ = fmt.Fprintf(w, `{"name":"app","tags":["%s"]}`, strings.Join(pages[page], `","`))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestListTags(t *testing.T) {
	host := tagServer(t, [][]string{{"a", "b"}, {"c"}, {"d", "e"}}, nil)
	repo, err := ParseImage(host+"/app", true)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := ListTags(t.Context(), repo, 10, Options{Insecure: true})
	if err != nil || strings.Join(tags, ",") != "a,b,c,d,e" {
		t.Fatalf("ListTags = %v, %v", tags, err)
	}
	if _, err := ListTags(t.Context(), repo, 4, Options{Insecure: true}); !errors.Is(err, ErrTooManyTags) {
		t.Fatalf("bound of 4: err = %v, want ErrTooManyTags", err)
	}

	huge := tagServer(t, nil, func(int) string {
		return `{"name":"app","tags":["` + strings.Repeat("x", maxTagPage) + `"]}`
	})
	repo, _ = ParseImage(huge+"/app", true)
	if _, err := ListTags(t.Context(), repo, 0, Options{Insecure: true}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("huge page: err = %v", err)
	}
}

func TestParseImage(t *testing.T) {
	cases := map[string]struct {
		image, canonical string
		ok               bool
	}{
		"docker hub short": {"alpine", "index.docker.io/library/alpine", true},
		"ghcr":             {"ghcr.io/org/app", "ghcr.io/org/app", true},
		"port":             {"localhost:5000/app", "localhost:5000/app", true},
		"tag":              {"ghcr.io/org/app:1.0", "", false},
		"digest":           {"ghcr.io/org/app@sha256:abc", "", false},
		"scheme":           {"https://ghcr.io/org/app", "", false},
		"empty":            {"", "", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			repo, err := ParseImage(tc.image, false)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && repo.String() != tc.canonical {
				t.Errorf("canonical %s, want %s", repo.String(), tc.canonical)
			}
		})
	}
}
