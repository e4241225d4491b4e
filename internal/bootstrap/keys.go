package bootstrap

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// KeyPair is an SSH deploy key: the OpenSSH PEM private key and the authorized_keys line.
type KeyPair struct {
	PrivateKey []byte
	PublicKey  string
}

// GenerateKey generates a key pair of algorithm "ecdsa" (with curve p256, p384 or p521),
// "rsa" (with rsaBits) or "ed25519", as flux's --ssh-key-algorithm.
func GenerateKey(algorithm string, rsaBits int, curve string) (KeyPair, error) {
	var priv crypto.Signer
	var err error
	switch algorithm {
	case "", "ecdsa":
		c := map[string]elliptic.Curve{"p256": elliptic.P256(), "p384": elliptic.P384(), "p521": elliptic.P521(), "": elliptic.P384()}[curve]
		if c == nil {
			return KeyPair{}, fmt.Errorf("unsupported ECDSA curve %q: p256, p384 or p521", curve)
		}
		priv, err = ecdsa.GenerateKey(c, rand.Reader)
	case "rsa":
		if rsaBits < 1024 || rsaBits > 8192 || rsaBits%8 != 0 {
			return KeyPair{}, fmt.Errorf("invalid RSA key size %d: a multiple of 8 between 1024 and 8192", rsaBits)
		}
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return KeyPair{}, fmt.Errorf("unsupported SSH key algorithm %q: rsa, ecdsa or ed25519", algorithm)
	}
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate %s key: %w", algorithm, err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return KeyPair{}, fmt.Errorf("encode private key: %w", err)
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return KeyPair{}, fmt.Errorf("encode public key: %w", err)
	}
	return KeyPair{PrivateKey: pem.EncodeToMemory(block), PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))}, nil
}

// LoadKey reads a private key (decrypted with password when it is encrypted) and derives its
// public key.
func LoadKey(pemData, password []byte) (KeyPair, error) {
	var signer ssh.Signer
	var err error
	if len(password) > 0 {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pemData, password)
	} else {
		signer, err = ssh.ParsePrivateKey(pemData)
	}
	if err != nil {
		return KeyPair{}, fmt.Errorf("parse private key: %w", err)
	}
	return KeyPair{PrivateKey: pemData, PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))}, nil
}

// errScanned ends a scan's handshake once the host key is known.
var errScanned = errors.New("host key scanned")

// ScanHostKey returns a known_hosts line for the SSH server of an ssh:// URL, as ssh-keyscan
// would: the key is trusted on first use, the way flux bootstrap trusts it.
func ScanHostKey(ctx context.Context, sshURL string) ([]byte, error) {
	u, err := url.Parse(sshURL)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", sshURL, err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "22")
	}
	var key ssh.PublicKey
	cfg := &ssh.ClientConfig{User: "git", Timeout: 30 * time.Second,
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error { key = k; return errScanned }}
	d := net.Dialer{Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("scan host key of %s: %w", host, err)
	}
	defer func() { _ = conn.Close() }()
	if _, _, _, err := ssh.NewClientConn(conn, host, cfg); key == nil {
		return nil, fmt.Errorf("scan host key of %s: %w", host, err)
	}
	name := u.Hostname()
	if u.Port() != "" && u.Port() != "22" {
		name = host
	}
	return []byte(knownhosts.Line([]string{name}, key) + "\n"), nil
}
