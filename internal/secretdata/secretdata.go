package secretdata

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// First returns the value of the first of keys that data holds and is not empty, or nil.
func First(data map[string][]byte, keys ...string) []byte {
	for _, k := range keys {
		if v, ok := data[k]; ok && len(v) > 0 {
			return v
		}
	}
	return nil
}

// HasTLS reports whether data holds a CA or a client certificate.
func HasTLS(data map[string][]byte) bool {
	return First(data, "ca.crt", "caFile") != nil || First(data, "tls.crt", "certFile") != nil
}

// TLSConfig builds a client TLS configuration from data: a CA (ca.crt or caFile) added to
// the system roots' place, a client certificate and key (tls.crt and tls.key, or certFile and
// keyFile). It returns nil when data holds neither.
func TLSConfig(data map[string][]byte) (*tls.Config, error) {
	ca := First(data, "ca.crt", "caFile")
	cert, key := First(data, "tls.crt", "certFile"), First(data, "tls.key", "keyFile")
	if ca == nil && cert == nil && key == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("invalid CA certificate in 'ca.crt': no PEM certificate found")
		}
		cfg.RootCAs = pool
	}
	if (cert == nil) != (key == nil) {
		return nil, errors.New("a client certificate needs both 'tls.crt' and 'tls.key'")
	}
	if cert != nil {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, errors.New("invalid client certificate or key in 'tls.crt' and 'tls.key'")
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// ProxyURL is the proxy of a proxy Secret: its address, with username and password (when
// set) as the URL's userinfo.
func ProxyURL(data map[string][]byte) (string, error) {
	addr := strings.TrimSpace(string(data["address"]))
	if addr == "" {
		return "", errors.New("secret has no 'address'")
	}
	scheme, rest, ok := strings.Cut(addr, "://")
	if !ok {
		scheme, rest = "http", addr
	}
	u, err := url.Parse(scheme + "://" + rest)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("invalid proxy 'address': not a URL")
	}
	if user := string(data["username"]); user != "" {
		u.User = url.UserPassword(user, string(data["password"]))
	}
	return u.String(), nil
}
