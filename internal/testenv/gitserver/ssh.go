package gitserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"

	gssh "github.com/gliderlabs/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer is a running SSH server that serves the Root's repositories
// through git-upload-pack and git-receive-pack.
type SSHServer struct {
	// Addr is the listening address, "127.0.0.1:<port>".
	Addr string
	// User is the SSH user name clients log in as.
	User string
	// KnownHosts is a known_hosts line for the server's host key.
	KnownHosts []byte
	// ClientKeyPEM is the PEM (OpenSSH format) private key of the only
	// authorized client key.
	ClientKeyPEM []byte
}

// RepoURL returns the ssh:// clone URL of the repository called name.
func (s *SSHServer) RepoURL(name string) string {
	return fmt.Sprintf("ssh://%s@%s/%s", s.User, s.Addr, strings.TrimPrefix(name, "/"))
}

// NewSSHKey generates an ed25519 key pair and returns the OpenSSH PEM private
// key and the public key. Tests use it for wrong keys and host keys.
func NewSSHKey(t T) ([]byte, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "weir test")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock(block.Type, block.Bytes), sshPub
}

// ServeSSH starts an SSH server for the Root with a fresh host key and one
// authorized client key, and stops it when the test ends.
func (r *Root) ServeSSH() *SSHServer { return r.ServeSSHAuthorized(nil) }

// ServeSSHAuthorized is ServeSSH that also admits every client key authorize accepts (a
// stand-in's deploy keys, added at run time), besides the server's own client key.
func (r *Root) ServeSSHAuthorized(authorize func(ssh.PublicKey) bool) *SSHServer {
	t := r.t
	t.Helper()
	hostPEM, hostPub := NewSSHKey(t)
	hostSigner, err := ssh.ParsePrivateKey(hostPEM)
	if err != nil {
		t.Fatal(err)
	}
	clientPEM, clientPub := NewSSHKey(t)

	srv := &gssh.Server{
		Handler: func(s gssh.Session) { r.serveSession(s) },
		PublicKeyHandler: func(_ gssh.Context, key gssh.PublicKey) bool {
			return gssh.KeysEqual(key, clientPub) || (authorize != nil && authorize(key))
		},
	}
	srv.AddHostKey(hostSigner)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := l.Addr().String()
	return &SSHServer{
		Addr:         addr,
		User:         "git",
		KnownHosts:   []byte(knownhosts.Line([]string{addr}, hostPub) + "\n"),
		ClientKeyPEM: clientPEM,
	}
}

// serveSession runs one git command for a client. Only git-upload-pack and
// git-receive-pack on a path inside the Root are allowed.
func (r *Root) serveSession(s gssh.Session) {
	args := s.Command()
	if len(args) != 2 || (args[0] != "git-upload-pack" && args[0] != "git-receive-pack") {
		fmt.Fprintln(s.Stderr(), "only git-upload-pack and git-receive-pack are served")
		_ = s.Exit(128)
		return
	}
	rel := filepath.Clean("/" + args[1])
	dir := filepath.Join(r.Dir, rel)
	cmd := exec.CommandContext(s.Context(), "git", strings.TrimPrefix(args[0], "git-"), dir)
	cmd.Env = r.env()
	if v := protocolEnv(s.Environ()); v != "" {
		cmd.Env = append(cmd.Env, v)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		_ = s.Exit(128)
		return
	}
	cmd.Stdout, cmd.Stderr = s, s.Stderr()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(s.Stderr(), err)
		_ = s.Exit(128)
		return
	}
	// The stdin copy is not waited for: the client may keep its side open
	// until it sees the exit status.
	go func() {
		_, _ = io.Copy(stdin, s)
		_ = stdin.Close()
	}()
	code := 0
	if err := cmd.Wait(); err != nil {
		code = 128
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		}
	}
	_ = s.Exit(code)
}

func protocolEnv(env []string) string {
	for _, e := range env {
		if strings.HasPrefix(e, "GIT_PROTOCOL=") {
			return e
		}
	}
	return ""
}
