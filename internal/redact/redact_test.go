package redact

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"user and password", "https://user:s3cret@host/repo", "https://***@host/repo"},
		{"token as user", "https://ghp_token@host/repo", "https://***@host/repo"},
		{"token with port", "https://x-access-token:tok@host:8443/org/repo.git", "https://***@host:8443/org/repo.git"},
		{"ssh user", "ssh://git@host/repo", "ssh://***@host/repo"},
		{"ssh user and password", "ssh://git:pw@host/repo", "ssh://***@host/repo"},
		{"oci", "oci://robot:pw@registry.example/charts/app", "oci://***@registry.example/charts/app"},
		{"s3", "s3://AKIAEXAMPLE:secret@minio:9000/bucket", "s3://***@minio:9000/bucket"},
		{"no userinfo", "https://host/repo", "https://host/repo"},
		{"unparseable keeps no token", "https://tok%zz@host/repo", "https://***@host/repo"},
		{"scheme-relative", "//user:s3cret@host/repo", "//***@host/repo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := URL(tt.in); got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"go http error", `Get "https://ghp_abc@git.example/r.git/info/refs?service=git-upload-pack": dial tcp: lookup git.example: no such host`,
			`Get "https://***@git.example/r.git/info/refs?service=git-upload-pack": dial tcp: lookup git.example: no such host`},
		{"password with @", "clone https://u:p@ss@host/r: denied", "clone https://***@host/r: denied"},
		{"two urls", "from https://a:b@x/ to http://c@y/z", "from https://***@x/ to http://***@y/z"},
		{"upper-case scheme", "HTTPS://tok@host/x", "HTTPS://***@host/x"},
		{"email is not a url", "mail admin@example.com about it", "mail admin@example.com about it"},
		{"url without userinfo then at sign", "https://host/a then user@x", "https://host/a then user@x"},
		{"query with at sign is not userinfo", "https://host/p?who=a@b", "https://host/p?who=a@b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.in); got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestValues(t *testing.T) {
	msg := `Secret "db" is invalid: data[password]: Invalid value: "hunter22": and c3VwZXJzZWNyZXQ= and supersecret, short "ab"`
	got := Values(msg, "hunter22", "supersecret", "ab")
	for _, leak := range []string{"hunter22", "supersecret", "c3VwZXJzZWNyZXQ="} {
		if strings.Contains(got, leak) {
			t.Errorf("%q leaks %q", got, leak)
		}
	}
	if !strings.Contains(got, `"ab"`) {
		t.Errorf("short value masked: %q", got)
	}
	if got := Values("value abcdefgh and abcd", "abcd", "abcdefgh"); got != "value *** and ***" {
		t.Errorf("longest first: got %q", got)
	}
}

func TestErr(t *testing.T) {
	base := errors.Join(fs.ErrNotExist, errors.New("https://tok@host/x"))
	err := Err(base)
	if strings.Contains(err.Error(), "tok@") {
		t.Fatalf("leak: %v", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("chain lost")
	}
	plain := errors.New("nothing to hide")
	if Err(plain) != plain { //nolint:errorlint // identity is the point
		t.Fatal("clean error was wrapped")
	}
	if Err(nil) != nil {
		t.Fatal("nil not kept")
	}
}
