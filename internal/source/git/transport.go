package git

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
)

// HTTPTransport returns an HTTP transport with a's TLS settings (its CA
// bundle trusted beside the system roots, its client certificate) and its
// proxy, for the HTTP APIs that go with a repository, such as the GitHub
// API of a GitHub Enterprise Server. Without a proxy in a the environment's
// (HTTPS_PROXY, NO_PROXY) applies. Errors wrap ErrAuthentication and quote
// no key material.
func HTTPTransport(a Auth) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(a.CACert) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(a.CACert) {
			return nil, fmt.Errorf("%w: no PEM certificate in the CA bundle", ErrAuthentication)
		}
		cfg.RootCAs = pool
	}
	if (len(a.ClientCert) == 0) != (len(a.ClientKey) == 0) {
		return nil, fmt.Errorf("%w: client certificate and key must be given together", ErrAuthentication)
	}
	if len(a.ClientCert) > 0 {
		pair, err := tls.X509KeyPair(a.ClientCert, a.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("%w: invalid client certificate or key", ErrAuthentication)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	tr.TLSClientConfig = cfg
	if a.Proxy != nil && a.Proxy.Address != "" {
		p, err := url.Parse(a.Proxy.Address)
		if err != nil || p.Host == "" {
			return nil, fmt.Errorf("%w: invalid proxy address", ErrAuthentication)
		}
		if a.Proxy.Username != "" {
			p.User = url.UserPassword(a.Proxy.Username, a.Proxy.Password)
		}
		tr.Proxy = http.ProxyURL(p)
	}
	return tr, nil
}
