package git

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Auth holds the credentials and transport settings for one repository, as
// read from a GitRepository's Secrets. Only the fields that fit the URL's
// scheme are used.
type Auth struct {
	// Username and Password: HTTP basic auth; for SSH, Password is the
	// private key's passphrase, or password auth when no key is given.
	Username, Password string
	// BearerToken is sent as "Authorization: Bearer <token>" over HTTP(S);
	// it takes precedence over basic auth.
	BearerToken string
	// SSHPrivateKey is a PEM private key (identity).
	SSHPrivateKey []byte
	// KnownHosts is required for SSH: the server's host key must match it.
	KnownHosts []byte
	// CACert is a PEM CA bundle trusted in addition to the system pool.
	CACert []byte
	// ClientCert and ClientKey are a PEM certificate and key for mutual TLS.
	ClientCert, ClientKey []byte
	// Proxy, when set, routes HTTP(S) and SSH traffic through a proxy.
	Proxy *Proxy
}

// Proxy is a proxy server for Git traffic.
type Proxy struct {
	// Address is the proxy URL: http://, https:// or socks5://.
	Address string
	// Username and Password authenticate to the proxy.
	Username, Password string
}

// Fingerprint identifies a's credentials and transport settings: equal Auths have equal
// fingerprints and Auths that differ in any field have different ones. It is a SHA-256 digest,
// so it can key a cache of what was fetched with a without the credentials in the key; it is
// for memory only, never for logs or the API.
func (a Auth) Fingerprint() string {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(a.Username))
	field([]byte(a.Password))
	field([]byte(a.BearerToken))
	field(a.SSHPrivateKey)
	field(a.KnownHosts)
	field(a.CACert)
	field(a.ClientCert)
	field(a.ClientKey)
	if a.Proxy != nil {
		field([]byte("proxy"))
		field([]byte(a.Proxy.Address))
		field([]byte(a.Proxy.Username))
		field([]byte(a.Proxy.Password))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// secrets lists the values that must never appear in messages.
func (a Auth) secrets() []string {
	s := []string{a.Password, a.BearerToken}
	if a.Proxy != nil {
		s = append(s, a.Proxy.Password)
	}
	return s
}

// withoutCredentials keeps a's TLS settings, known_hosts and proxy, and drops what
// authenticates to a Git server, for a server other than the one a was given for.
func (a Auth) withoutCredentials() Auth {
	return Auth{KnownHosts: a.KnownHosts, CACert: a.CACert, ClientCert: a.ClientCert, ClientKey: a.ClientKey, Proxy: a.Proxy}
}

// transportOptions is Auth translated for go-git.
type transportOptions struct {
	auth                  transport.AuthMethod
	caBundle              []byte
	clientCert, clientKey []byte
	proxy                 transport.ProxyOptions
}

// transportFor builds go-git transport options for u from a.
func transportFor(u *url.URL, a Auth) (transportOptions, error) {
	o := transportOptions{caBundle: a.CACert, clientCert: a.ClientCert, clientKey: a.ClientKey}
	if (len(a.ClientCert) == 0) != (len(a.ClientKey) == 0) {
		return o, fmt.Errorf("%w: client certificate and key must be given together", ErrAuthentication)
	}
	if a.Proxy != nil && a.Proxy.Address != "" {
		p, err := url.Parse(a.Proxy.Address)
		if err != nil || p.Host == "" {
			return o, fmt.Errorf("%w: invalid proxy address", ErrAuthentication)
		}
		o.proxy = transport.ProxyOptions{URL: a.Proxy.Address, Username: a.Proxy.Username, Password: a.Proxy.Password}
	}
	switch u.Scheme {
	case "http", "https":
		switch {
		case a.BearerToken != "":
			o.auth = &githttp.TokenAuth{Token: a.BearerToken}
		case a.Username != "" || a.Password != "":
			o.auth = &githttp.BasicAuth{Username: a.Username, Password: a.Password}
		}
	case "ssh":
		auth, err := sshAuth(u, a)
		if err != nil {
			return o, err
		}
		o.auth = auth
	}
	return o, nil
}

func sshAuth(u *url.URL, a Auth) (transport.AuthMethod, error) {
	if len(a.KnownHosts) == 0 {
		return nil, fmt.Errorf("%w: known_hosts is required for ssh", ErrAuthentication)
	}
	callback, algos, err := hostKeyCallback(u, a.KnownHosts)
	if err != nil {
		return nil, err
	}
	helper := gitssh.HostKeyCallbackHelper{HostKeyCallback: callback, HostKeyAlgorithms: algos}
	user := "git"
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	switch {
	case len(a.SSHPrivateKey) > 0:
		keys, err := gitssh.NewPublicKeys(user, a.SSHPrivateKey, a.Password)
		if err != nil {
			// The parse error may quote key material; keep only the kind.
			return nil, fmt.Errorf("%w: cannot parse ssh private key", ErrAuthentication)
		}
		keys.HostKeyCallbackHelper = helper
		return keys, nil
	case a.Password != "":
		return &gitssh.Password{User: user, Password: a.Password, HostKeyCallbackHelper: helper}, nil
	default:
		return nil, fmt.Errorf("%w: ssh needs a private key or a password", ErrAuthentication)
	}
}

// hostKeyCallback builds a strict known_hosts callback and the host key
// algorithms that known_hosts lists for the URL's host, so that the server
// is asked for a key type that can be verified.
func hostKeyCallback(u *url.URL, knownHosts []byte) (ssh.HostKeyCallback, []string, error) {
	f, err := os.CreateTemp("", "weir-known-hosts-")
	if err != nil {
		return nil, nil, fmt.Errorf("write known_hosts: %w", err)
	}
	defer func() { _ = os.Remove(f.Name()) }()
	_, werr := f.Write(knownHosts)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, nil, fmt.Errorf("write known_hosts: %w", werr)
	}
	callback, err := knownhosts.New(f.Name())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: invalid known_hosts: %w", ErrAuthentication, err)
	}
	port := u.Port()
	if port == "" {
		port = "22"
	}
	hostport := net.JoinHostPort(u.Hostname(), port)
	var algos []string
	seen := map[string]bool{}
	rest := knownHosts
	for len(rest) > 0 {
		_, _, key, _, next, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			break
		}
		rest = next
		if callback(hostport, &net.TCPAddr{}, key) != nil {
			continue
		}
		for _, algo := range algorithmsFor(key.Type()) {
			if !seen[algo] {
				seen[algo] = true
				algos = append(algos, algo)
			}
		}
	}
	return callback, algos, nil
}

func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// AuthFromData reads Flux's Git Secret keys: username and password, bearerToken, identity
// and known_hosts, ca.crt, tls.crt and tls.key (and the legacy caFile, certFile, keyFile).
func AuthFromData(d map[string][]byte) Auth {
	first := func(keys ...string) []byte {
		for _, k := range keys {
			if v, ok := d[k]; ok && len(v) > 0 {
				return v
			}
		}
		return nil
	}
	return Auth{
		Username:      string(d["username"]),
		Password:      string(d["password"]),
		BearerToken:   string(d["bearerToken"]),
		SSHPrivateKey: d["identity"],
		KnownHosts:    d["known_hosts"],
		CACert:        first("ca.crt", "caFile"),
		ClientCert:    first("tls.crt", "certFile"),
		ClientKey:     first("tls.key", "keyFile"),
	}
}
