package secretdata

import (
	"strings"
	"testing"
)

func TestProxyURL(t *testing.T) {
	cases := []struct {
		name    string
		data    map[string][]byte
		want    string
		wantErr string
	}{
		{"plain", map[string][]byte{"address": []byte("http://proxy:3128")}, "http://proxy:3128", ""},
		{"no scheme", map[string][]byte{"address": []byte("proxy:3128")}, "http://proxy:3128", ""},
		{"credentials", map[string][]byte{"address": []byte("https://proxy:3128"), "username": []byte("u"), "password": []byte("p@ss")},
			"https://u:p%40ss@proxy:3128", ""},
		{"missing", map[string][]byte{}, "", "no 'address'"},
	}
	for _, c := range cases {
		got, err := ProxyURL(c.data)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: ProxyURL = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestTLSConfig(t *testing.T) {
	if cfg, err := TLSConfig(map[string][]byte{"token": []byte("x")}); cfg != nil || err != nil {
		t.Errorf("no TLS keys: %v, %v", cfg, err)
	}
	if _, err := TLSConfig(map[string][]byte{"ca.crt": []byte("not pem")}); err == nil || strings.Contains(err.Error(), "not pem") {
		t.Errorf("bad CA: %v", err)
	}
	if _, err := TLSConfig(map[string][]byte{"tls.crt": []byte("x")}); err == nil {
		t.Error("a certificate without key gave no error")
	}
}
