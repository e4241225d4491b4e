package gitserver

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// symlinkPrefix marks a file value in a Commit map as a symlink target. The
// NUL byte cannot occur in a path, so no real content starting with it is
// mistaken for a link by accident in practice.
const symlinkPrefix = "\x00symlink:"

// Deleted, used as a value in a Commit file map, removes the path.
const Deleted = "\x00deleted"

// Symlink returns a Commit file map value that creates a symbolic link to
// target (stored verbatim, so it may be relative, absolute or dangling).
func Symlink(target string) string { return symlinkPrefix + target }

// Root is a directory of bare repositories that servers expose.
type Root struct {
	// Dir is the absolute directory holding the bare repositories.
	Dir string

	t    T
	home string
}

// NewRoot creates an empty Root in a temporary directory removed at the end
// of the test.
func NewRoot(t T) *Root {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git CLI not found: install git (the tests need a real Git server)")
	}
	dir := t.TempDir()
	home := filepath.Join(dir, ".home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	return &Root{Dir: dir, t: t, home: home}
}

// env is the environment for every git CLI call: no system or global
// configuration, a fixed identity.
func (r *Root) env() []string {
	return append(os.Environ(),
		"HOME="+r.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=weir test",
		"GIT_AUTHOR_EMAIL=test@weir.invalid",
		"GIT_COMMITTER_NAME=weir test",
		"GIT_COMMITTER_EMAIL=test@weir.invalid",
		"GIT_TERMINAL_PROMPT=0",
	)
}

// git runs the git CLI in dir and returns its trimmed standard output; any
// failure fails the test.
func (r *Root) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = r.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		r.t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// Repo is one bare repository in a Root, plus a private working clone used to
// author commits.
type Repo struct {
	// Name is the repository's path relative to the Root, as used in URLs.
	Name string
	// Dir is the bare repository's directory.
	Dir string

	root *Root
	mu   sync.Mutex
	work string
}

// NewRepo creates an empty bare repository called name (for example
// "podinfo.git" or "org/podinfo") whose default branch is master.
func (r *Root) NewRepo(name string) *Repo {
	r.t.Helper()
	dir := filepath.Join(r.Dir, filepath.FromSlash(name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	r.git(dir, "init", "-q", "--bare", "-b", "master")
	r.git(dir, "config", "http.receivepack", "true")
	r.git(dir, "config", "uploadpack.allowAnySHA1InWant", "true")
	work := filepath.Join(r.t.TempDir(), "work")
	r.git(r.Dir, "init", "-q", "-b", "master", work)
	r.git(work, "remote", "add", "origin", dir)
	r.git(work, "config", "core.symlinks", "true")
	return &Repo{Name: name, Dir: dir, root: r, work: work}
}

// Commit writes files on top of branch (an orphan branch when it does not
// exist yet), commits them with message, pushes the commit to the bare
// repository and returns its hash. Values are file contents, Symlink(target)
// or Deleted; paths use forward slashes and may contain directories.
func (p *Repo) Commit(branch, message string, files map[string]string) string {
	p.root.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	r, w := p.root, p.work
	p.checkout(branch)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := writeEntry(filepath.Join(w, filepath.FromSlash(name)), files[name]); err != nil {
			r.t.Fatalf("write %s: %v", name, err)
		}
	}
	r.git(w, "add", "-A")
	r.git(w, "commit", "-q", "--allow-empty", "-m", message)
	r.git(w, "push", "-q", "-f", "origin", "HEAD:refs/heads/"+branch)
	return r.git(w, "rev-parse", "HEAD")
}

// checkout makes the working clone's HEAD the tip of branch, an orphan
// branch when it does not exist yet, with a clean tree. p.mu is held.
func (p *Repo) checkout(branch string) {
	p.root.t.Helper()
	r, w := p.root, p.work
	if r.git(p.Dir, "for-each-ref", "refs/heads/"+branch) != "" {
		r.git(w, "fetch", "-q", "origin", "+refs/heads/"+branch+":refs/remotes/origin/"+branch)
		r.git(w, "checkout", "-q", "-f", "-B", branch, "refs/remotes/origin/"+branch)
	} else {
		r.git(w, "update-ref", "-d", "refs/heads/"+branch)
		r.git(w, "checkout", "-q", "-f", "--orphan", branch)
		r.git(w, "rm", "-q", "-r", "-f", "--cached", "--ignore-unmatch", ".")
	}
	r.git(w, "clean", "-q", "-f", "-d", "-x")
}

// Submodule commits, on top of branch, a submodule at path that points at
// commit of the repository at url (absolute, or relative to the
// superproject's own URL such as "../lib"): the .gitmodules entry and the
// gitlink. It pushes the commit and returns its hash.
func (p *Repo) Submodule(branch, path, url, commit string) string {
	p.root.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	r, w := p.root, p.work
	p.checkout(branch)
	r.git(w, "config", "-f", ".gitmodules", "submodule."+path+".path", path)
	r.git(w, "config", "-f", ".gitmodules", "submodule."+path+".url", url)
	r.git(w, "add", ".gitmodules")
	r.git(w, "update-index", "--add", "--cacheinfo", "160000,"+commit+","+path)
	r.git(w, "commit", "-q", "-m", "submodule "+path)
	r.git(w, "push", "-q", "-f", "origin", "HEAD:refs/heads/"+branch)
	return r.git(w, "rev-parse", "HEAD")
}

func writeEntry(path, value string) error {
	if err := os.RemoveAll(path); err != nil {
		return err
	}
	if value == Deleted {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if target, ok := strings.CutPrefix(value, symlinkPrefix); ok {
		return os.Symlink(target, path)
	}
	return os.WriteFile(path, []byte(value), 0o644)
}

// Git runs the git CLI in the bare repository with the Root's environment and returns its
// trimmed output; a failure fails the test.
func (p *Repo) Git(args ...string) string {
	p.root.t.Helper()
	return p.root.git(p.Dir, args...)
}

// Rev resolves a revision (branch, tag, ref or hash) in the bare repository
// to a commit hash.
func (p *Repo) Rev(rev string) string {
	p.root.t.Helper()
	return p.root.git(p.Dir, "rev-parse", rev+"^{commit}")
}

// Tag creates or moves the lightweight tag name to rev.
func (p *Repo) Tag(name, rev string) {
	p.root.t.Helper()
	p.root.git(p.Dir, "tag", "-f", name, rev)
}

// AnnotatedTag creates or moves the annotated tag name to rev.
func (p *Repo) AnnotatedTag(name, rev, message string) {
	p.root.t.Helper()
	p.root.git(p.Dir, "tag", "-f", "-a", "-m", message, name, rev)
}

// SetRef points the full reference ref (for example "refs/pull/1/head" or
// "refs/heads/dev") at rev.
func (p *Repo) SetRef(ref, rev string) {
	p.root.t.Helper()
	if !strings.HasPrefix(ref, "refs/") {
		p.root.t.Fatalf("set ref %s: not a full reference", ref)
	}
	p.root.git(p.Dir, "update-ref", ref, p.Rev(rev))
}

// DeleteRef removes the full reference ref.
func (p *Repo) DeleteRef(ref string) {
	p.root.t.Helper()
	p.root.git(p.Dir, "update-ref", "-d", ref)
}

// String returns the repository's name.
func (p *Repo) String() string { return fmt.Sprintf("gitserver repo %s", p.Name) }
